/**
 * An independent reference for LoRA training gradients (issue #8 item 2): the same causal-LM loss
 * as Dure's WGSL trainer, written as a TensorFlow.js graph (CPU backend, float32) and
 * differentiated by tfjs's autodiff. It shares no code with the trainer; only the model
 * definition is mirrored from src/testing/cpu-forward.ts (RoPE style and theta, GQA head mapping,
 * qwen2 q/k/v biases, tied output), so a disagreement points at the trainer's hand-written
 * backward pass rather than at a second copy of the same derivation.
 *
 * Contract (src/training/api.ts): `lossMask[t] = 1` scores ids[t] against the logits computed at
 * position t-1; the loss is the mean cross-entropy over every masked token of every example in
 * the call; each target module computes W·x (+ bias) + (alpha/rank)·B·(A·x), with A and B in the
 * GGUF weight's row order.
 */
import * as tf from '@tensorflow/tfjs';
import { DureError } from '../protocol/errors.ts';
import { readGguf } from '../engine/gguf/reader.ts';
import { dequantize } from '../engine/gguf/quant/index.ts';
import type { ByteSource, GgufFile } from '../engine/gguf/types.ts';
import { modelConfig, type ModelConfig } from '../engine/model/config.ts';
import { peftTensorName } from '../protocol/lora.ts';
import type { LoraTensors, TrainExample } from '../training/api.ts';

/** The reference cannot run this model, adapter or batch. */
export class TfjsReferenceError extends DureError {
  override name = 'TfjsReferenceError';
  constructor(message: string) {
    super('TFJS_REFERENCE', message);
  }
}

/** Architectures whose whole forward pass this reference implements. */
export const REFERENCE_ARCHITECTURES = ['llama', 'qwen2'] as const;

/** PEFT module → llama.cpp tensor stem (the weight the low-rank term is added to). */
const MODULE_TENSOR: Record<string, string> = {
  q_proj: 'attn_q',
  k_proj: 'attn_k',
  v_proj: 'attn_v',
  o_proj: 'attn_output',
  gate_proj: 'ffn_gate',
  up_proj: 'ffn_up',
  down_proj: 'ffn_down',
};

export interface ReferenceGradients {
  /** Mean cross-entropy over the masked tokens. */
  loss: number;
  /** Number of masked tokens. */
  tokens: number;
  /** PEFT tensor name → gradient of `loss`, same layout as the adapter tensor. */
  grads: Map<string, Float32Array>;
}

/** One module's low-rank term as tensors: A [rank, in], B [out, rank]. */
interface LoraPairTensors {
  a: tf.Tensor2D;
  b: tf.Tensor2D;
}

let backendReady: Promise<void> | undefined;

/** tfjs's pure-JS CPU backend: float32, deterministic, available everywhere Node runs. */
function cpuBackend(): Promise<void> {
  backendReady ??= tf.setBackend('cpu').then(async (ok) => {
    if (!ok) throw new TfjsReferenceError('tfjs CPU backend unavailable');
    await tf.ready();
  });
  return backendReady;
}

/** Base model weights as tfjs tensors plus the float64 RoPE tables, for LoRA loss and gradients. */
export class TfjsLoraReference {
  readonly cfg: ModelConfig;
  readonly #w = new Map<string, tf.Tensor>();
  readonly #rope = new Map<number, { cos: tf.Tensor3D; sin: tf.Tensor3D }>();
  #ropeFactors: Float32Array | undefined;
  #disposed = false;

  private constructor(cfg: ModelConfig) {
    this.cfg = cfg;
  }

  /**
   * Reads and dequantizes every tensor of a GGUF (any quant type Dure reads).
   * @throws {TfjsReferenceError} for an architecture the reference does not implement.
   * @throws {import('../engine/model/config.ts').ModelMetadataError} for bad metadata.
   */
  static async load(source: ByteSource | GgufFile): Promise<TfjsLoraReference> {
    await cpuBackend();
    const file = 'tensors' in source ? source : await readGguf(source);
    const cfg = modelConfig(file);
    if (!(REFERENCE_ARCHITECTURES as readonly string[]).includes(cfg.arch)) {
      throw new TfjsReferenceError(
        `the tfjs reference implements ${REFERENCE_ARCHITECTURES.join(', ')}, not ${cfg.arch}`,
      );
    }
    // Belt and braces: none of these features belongs to llama/qwen2, and none is implemented.
    if (cfg.qkNorm || cfg.postNorms || cfg.gelu || cfg.attnSoftcap || cfg.finalSoftcap || cfg.slidingWindow)
      throw new TfjsReferenceError(`model ${cfg.name} uses features the tfjs reference lacks`);
    const ref = new TfjsLoraReference(cfg);
    for (const t of file.tensors) {
      const values = dequantize(t.type, await file.source.read(t.offset, t.byteLength), t.elements);
      if (t.name === 'rope_freqs.weight') {
        ref.#ropeFactors = values;
        continue;
      }
      // ggml dims are [in, out] with `in` contiguous: as a row-major tfjs matrix that is [out, in].
      const shape = t.dims.length === 1 ? [t.dims[0]!] : [t.dims[1]!, t.dims[0]!];
      ref.#w.set(t.name, tf.tensor(values, shape, 'float32'));
    }
    return ref;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of this.#w.values()) t.dispose();
    for (const r of this.#rope.values()) tf.dispose([r.cos, r.sin]);
    this.#w.clear();
    this.#rope.clear();
  }

  #weight(name: string): tf.Tensor {
    const w = this.#w.get(name);
    if (!w) throw new TfjsReferenceError(`model tensor ${name} missing`);
    return w;
  }

  /** cos/sin [T, 1, nRot/2] computed in float64 exactly as cpu-forward.ts does, cached per length. */
  #ropeTables(len: number): { cos: tf.Tensor3D; sin: tf.Tensor3D } {
    let r = this.#rope.get(len);
    if (!r) {
      const { nRot, ropeBase, ropeScale } = this.cfg;
      const half = nRot / 2;
      const cos = new Float32Array(len * half);
      const sin = new Float32Array(len * half);
      for (let p = 0; p < len; p++) {
        for (let i = 0; i < half; i++) {
          const f = this.#ropeFactors ? this.#ropeFactors[i]! : 1;
          const theta = (p * ropeScale * ropeBase ** ((-2 * i) / nRot)) / f;
          cos[p * half + i] = Math.cos(theta);
          sin[p * half + i] = Math.sin(theta);
        }
      }
      r = tf.tidy(() => ({
        cos: tf.keep(tf.tensor3d(cos, [len, 1, half])),
        sin: tf.keep(tf.tensor3d(sin, [len, 1, half])),
      }));
      this.#rope.set(len, r);
    }
    return r;
  }

  /** Rotates x [T, heads·headDim]: adjacent pairs (llama) or halves (NEOX, qwen2). */
  #applyRope(x: tf.Tensor2D, heads: number): tf.Tensor2D {
    const { headDim: hd, nRot, ropeNeox } = this.cfg;
    const len = x.shape[0];
    const half = nRot / 2;
    const { cos, sin } = this.#ropeTables(len);
    const x3 = x.reshape([len, heads, hd]) as tf.Tensor3D;
    const rot = nRot < hd ? x3.slice([0, 0, 0], [len, heads, nRot]) : x3;
    let x0: tf.Tensor3D;
    let x1: tf.Tensor3D;
    if (ropeNeox) {
      x0 = rot.slice([0, 0, 0], [len, heads, half]);
      x1 = rot.slice([0, 0, half], [len, heads, half]);
    } else {
      const pairs = rot.reshape([len, heads, half, 2]);
      x0 = pairs.slice([0, 0, 0, 0], [len, heads, half, 1]).reshape([len, heads, half]);
      x1 = pairs.slice([0, 0, 0, 1], [len, heads, half, 1]).reshape([len, heads, half]);
    }
    const y0 = x0.mul(cos).sub(x1.mul(sin));
    const y1 = x0.mul(sin).add(x1.mul(cos));
    let y: tf.Tensor = ropeNeox ? tf.concat([y0, y1], 2) : tf.stack([y0, y1], 3).reshape([len, heads, nRot]);
    if (nRot < hd) y = tf.concat([y, x3.slice([0, 0, nRot], [len, heads, hd - nRot])], 2);
    return y.reshape([len, heads * hd]);
  }

  #rmsnorm(x: tf.Tensor2D, weight: string): tf.Tensor2D {
    const ms = x.square().mean(1, true);
    return x.mul(ms.add(this.cfg.eps).rsqrt()).mul(this.#weight(weight));
  }

  /** x·Wᵀ (+ bias) + (alpha/rank)·(x·Aᵀ)·Bᵀ for the GGUF weight `blk.{l}.{stem}.weight`. */
  #linear(x: tf.Tensor2D, name: string, lora: LoraPairTensors | undefined, scale: number): tf.Tensor2D {
    let y: tf.Tensor = tf.matMul(x, this.#weight(name) as tf.Tensor2D, false, true);
    const bias = this.#w.get(name.replace(/\.weight$/, '.bias'));
    if (bias) y = y.add(bias);
    if (lora) y = y.add(tf.matMul(tf.matMul(x, lora.a, false, true), lora.b, false, true).mul(scale));
    return y as tf.Tensor2D;
  }

  /** Final-norm hidden states [T, nEmbd] of one sequence. */
  #hidden(ids: ArrayLike<number>, lora: Map<string, LoraPairTensors>, scale: number): tf.Tensor2D {
    const c = this.cfg;
    const len = ids.length;
    const hd = c.headDim;
    const group = c.nHead / c.nKv;
    const kvHead = tf.tensor1d(
      Array.from({ length: c.nHead }, (_, h) => Math.floor(h / group)),
      'int32',
    );
    const maskValues = new Float32Array(len * len);
    for (let i = 0; i < len; i++) for (let j = i + 1; j < len; j++) maskValues[i * len + j] = -1e9;
    const causal = tf.tensor2d(maskValues, [len, len]);
    let x = tf.gather(
      this.#weight('token_embd.weight'),
      tf.tensor1d(Array.from(ids), 'int32'),
    ) as tf.Tensor2D;
    if (c.embedScale !== 1) x = x.mul(c.embedScale);
    const lin = (xx: tf.Tensor2D, l: number, module: string) =>
      this.#linear(xx, `blk.${l}.${MODULE_TENSOR[module]!}.weight`, lora.get(`${l}.${module}`), scale);
    for (let l = 0; l < c.nLayer; l++) {
      const xn = this.#rmsnorm(x, `blk.${l}.attn_norm.weight`);
      const q = this.#applyRope(lin(xn, l, 'q_proj'), c.nHead);
      const k = this.#applyRope(lin(xn, l, 'k_proj'), c.nKv);
      const v = lin(xn, l, 'v_proj');
      // [heads, T, hd]; query head h reads kv head ⌊h / group⌋ (GQA).
      const qh = q.reshape([len, c.nHead, hd]).transpose([1, 0, 2]) as tf.Tensor3D;
      const kh = tf.gather(k.reshape([len, c.nKv, hd]).transpose([1, 0, 2]), kvHead) as tf.Tensor3D;
      const vh = tf.gather(v.reshape([len, c.nKv, hd]).transpose([1, 0, 2]), kvHead) as tf.Tensor3D;
      const scores = tf.matMul(qh, kh, false, true).mul(c.attnScale).add(causal);
      const attn = tf
        .matMul(tf.softmax(scores), vh)
        .transpose([1, 0, 2])
        .reshape([len, c.nHead * hd]);
      x = x.add(lin(attn as tf.Tensor2D, l, 'o_proj'));
      const fn = this.#rmsnorm(x, `blk.${l}.ffn_norm.weight`);
      const g = lin(fn, l, 'gate_proj');
      const act = g.mul(tf.sigmoid(g)).mul(lin(fn, l, 'up_proj')) as tf.Tensor2D;
      x = x.add(lin(act, l, 'down_proj'));
    }
    return this.#rmsnorm(x, 'output_norm.weight');
  }

  #outputMatrix(): tf.Tensor2D {
    return (this.#w.get('output.weight') ?? this.#weight('token_embd.weight')) as tf.Tensor2D;
  }

  /**
   * Logits at every position [T·nVocab] (row t predicts token t+1), with an optional adapter.
   * @throws {TfjsReferenceError} for bad ids or adapter.
   */
  logits(ids: ArrayLike<number>, adapter?: LoraTensors): Float32Array {
    this.#checkIds(ids, 'ids');
    const pairs = adapter ? this.#adapterArrays(adapter) : undefined;
    return tf.tidy(() => {
      const lora = pairs ? this.#pairTensors(pairs, new Map()) : new Map<string, LoraPairTensors>();
      const scale = adapter ? adapter.alpha / adapter.rank : 0;
      const h = this.#hidden(ids, lora, scale);
      return new Float32Array(tf.matMul(h, this.#outputMatrix(), false, true).dataSync());
    });
  }

  /**
   * Mean masked cross-entropy of the batch (no gradients).
   * @throws {TfjsReferenceError} for a bad batch or adapter.
   */
  loss(adapter: LoraTensors, examples: readonly TrainExample[]): { loss: number; tokens: number } {
    const tokens = this.#checkBatch(examples);
    const pairs = this.#adapterArrays(adapter);
    const loss = tf.tidy(
      () => this.#batchLoss(this.#pairTensors(pairs, new Map()), adapter, examples, tokens).dataSync()[0]!,
    );
    return { loss, tokens };
  }

  /**
   * Loss and its gradient with respect to every lora_A and lora_B (only lora_B when `trainA` is
   * false, as in FFA-LoRA where A is frozen), by tfjs reverse-mode autodiff.
   * @throws {TfjsReferenceError} for a bad batch or adapter.
   */
  gradients(
    adapter: LoraTensors,
    examples: readonly TrainExample[],
    opts: { trainA?: boolean } = {},
  ): ReferenceGradients {
    const trainA = opts.trainA ?? true;
    const tokens = this.#checkBatch(examples);
    const pairs = this.#adapterArrays(adapter);
    const names: string[] = [];
    for (const p of pairs) {
      if (trainA) names.push(p.nameA);
      names.push(p.nameB);
    }
    const grads = new Map<string, Float32Array>();
    let loss = NaN;
    tf.tidy(() => {
      const inputs = names.map((n) => {
        const p = pairs.find((q) => q.nameA === n || q.nameB === n)!;
        return n === p.nameA
          ? tf.tensor2d(p.a, [adapter.rank, p.inFeatures])
          : tf.tensor2d(p.b, [p.outFeatures, adapter.rank]);
      });
      const f = (...params: tf.Tensor[]): tf.Scalar => {
        const given = new Map(names.map((n, i) => [n, params[i] as tf.Tensor2D]));
        return this.#batchLoss(this.#pairTensors(pairs, given), adapter, examples, tokens);
      };
      const { value, grads: g } = tf.valueAndGrads(f)(inputs);
      loss = value.dataSync()[0]!;
      names.forEach((n, i) => grads.set(n, new Float32Array(g[i]!.dataSync())));
    });
    return { loss, tokens, grads };
  }

  /** −Σ log p(target) over masked tokens of all examples, divided by the masked-token count. */
  #batchLoss(
    lora: Map<string, LoraPairTensors>,
    adapter: LoraTensors,
    examples: readonly TrainExample[],
    tokens: number,
  ): tf.Scalar {
    const scale = adapter.alpha / adapter.rank;
    let total: tf.Scalar = tf.scalar(0);
    for (const ex of examples) {
      const rows: number[] = [];
      const targets: number[] = [];
      for (let t = 1; t < ex.ids.length; t++) {
        if (ex.lossMask[t] === 1) {
          rows.push(t - 1);
          targets.push(ex.ids[t]!);
        }
      }
      if (rows.length === 0) continue;
      const h = this.#hidden(ex.ids, lora, scale);
      const picked = tf.gather(h, tf.tensor1d(rows, 'int32'));
      const logp = tf.logSoftmax(tf.matMul(picked, this.#outputMatrix(), false, true));
      const onehot = tf.oneHot(tf.tensor1d(targets, 'int32'), this.cfg.nVocab);
      total = total.add(logp.mul(onehot).sum());
    }
    return total.neg().div(tokens);
  }

  #pairTensors(pairs: AdapterArrays[], given: Map<string, tf.Tensor2D>): Map<string, LoraPairTensors> {
    const out = new Map<string, LoraPairTensors>();
    for (const p of pairs) {
      out.set(`${p.layer}.${p.module}`, {
        a: given.get(p.nameA) ?? tf.tensor2d(p.a, [p.rank, p.inFeatures]),
        b: given.get(p.nameB) ?? tf.tensor2d(p.b, [p.outFeatures, p.rank]),
      });
    }
    return out;
  }

  /** Validates the adapter against the model and lists its (A, B) pairs. */
  #adapterArrays(adapter: LoraTensors): AdapterArrays[] {
    const c = this.cfg;
    const { rank, alpha } = adapter;
    if (!Number.isInteger(rank) || rank < 1) throw new TfjsReferenceError(`bad LoRA rank ${rank}`);
    if (!Number.isFinite(alpha) || alpha <= 0) throw new TfjsReferenceError(`bad LoRA alpha ${alpha}`);
    const q = c.nHead * c.headDim;
    const kvDim = c.nKv * c.headDim;
    const dims: Record<string, [number, number]> = {
      q_proj: [c.nEmbd, q],
      k_proj: [c.nEmbd, kvDim],
      v_proj: [c.nEmbd, kvDim],
      o_proj: [q, c.nEmbd],
      gate_proj: [c.nEmbd, c.nFf],
      up_proj: [c.nEmbd, c.nFf],
      down_proj: [c.nFf, c.nEmbd],
    };
    const out: AdapterArrays[] = [];
    const seen = new Set<string>();
    for (const module of adapter.targetModules) {
      const d = dims[module];
      if (!d) throw new TfjsReferenceError(`unknown LoRA target module ${module}`);
      const [inFeatures, outFeatures] = d;
      for (let layer = 0; layer < c.nLayer; layer++) {
        const nameA = peftTensorName(layer, module, 'A');
        const nameB = peftTensorName(layer, module, 'B');
        const a = adapter.tensors.get(nameA);
        const b = adapter.tensors.get(nameB);
        if (!a || a.length !== rank * inFeatures)
          throw new TfjsReferenceError(`${nameA} missing or not ${rank}×${inFeatures}`);
        if (!b || b.length !== outFeatures * rank)
          throw new TfjsReferenceError(`${nameB} missing or not ${outFeatures}×${rank}`);
        seen.add(nameA).add(nameB);
        out.push({ layer, module, nameA, nameB, a, b, rank, inFeatures, outFeatures });
      }
    }
    for (const name of adapter.tensors.keys()) {
      if (!seen.has(name))
        throw new TfjsReferenceError(`adapter tensor ${name} is not a target of this model`);
    }
    return out;
  }

  #checkIds(ids: ArrayLike<number>, what: string): void {
    if (ids.length === 0) throw new TfjsReferenceError(`${what} is empty`);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.cfg.nVocab)
        throw new TfjsReferenceError(`${what}[${i}] = ${id} is not a token id below ${this.cfg.nVocab}`);
    }
  }

  /** @returns the number of masked tokens in the batch. */
  #checkBatch(examples: readonly TrainExample[]): number {
    if (examples.length === 0) throw new TfjsReferenceError('empty batch');
    let tokens = 0;
    examples.forEach((ex, e) => {
      this.#checkIds(ex.ids, `example ${e} ids`);
      if (ex.lossMask.length !== ex.ids.length)
        throw new TfjsReferenceError(`example ${e}: lossMask length differs from ids length`);
      if (ex.lossMask[0] !== 0)
        throw new TfjsReferenceError(`example ${e}: lossMask[0] must be 0 (nothing predicts token 0)`);
      for (const m of ex.lossMask) {
        if (m > 1) throw new TfjsReferenceError(`example ${e}: lossMask values must be 0 or 1`);
        tokens += m;
      }
    });
    if (tokens === 0) throw new TfjsReferenceError('the batch has no masked (trained-on) tokens');
    return tokens;
  }
}

interface AdapterArrays {
  layer: number;
  module: string;
  nameA: string;
  nameB: string;
  a: Float32Array;
  b: Float32Array;
  rank: number;
  inFeatures: number;
  outFeatures: number;
}
