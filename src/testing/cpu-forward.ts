/**
 * Dure's CPU reference forward pass: float64 arithmetic on dequantized weights, written plainly for
 * clarity and used only by tests, as the exact-arithmetic yardstick for the WGSL engine.
 */
import { dequantize } from '../engine/gguf/quant/index.ts';
import type { GgufFile } from '../engine/gguf/types.ts';
import { layerWindow, modelConfig, type ModelConfig } from '../engine/model/config.ts';
import { LORA_MODULES, parsePeftName } from '../engine/lora/adapter.ts';
import type { LoraTensors } from '../training/api.ts';

/** One adapter's term on one weight: y += factor · B·(A·x), A [rank, in], B [out, rank]. */
interface RefLoraTerm {
  a: Float32Array;
  b: Float32Array;
  rank: number;
  factor: number;
}

type Vec = Float64Array;

export class CpuReferenceModel {
  readonly cfg: ModelConfig;
  readonly #t = new Map<string, Float32Array>();
  #kCache: Vec[][] = [];
  #vCache: Vec[][] = [];
  /** LoRA terms by GGUF weight name (`blk.N.attn_q.weight`), applied in float64, unstacked. */
  #lora = new Map<string, RefLoraTerm[]>();

  private constructor(cfg: ModelConfig) {
    this.cfg = cfg;
  }

  static async load(file: GgufFile): Promise<CpuReferenceModel> {
    const m = new CpuReferenceModel(modelConfig(file));
    for (const t of file.tensors) {
      m.#t.set(t.name, dequantize(t.type, await file.source.read(t.offset, t.byteLength), t.elements));
    }
    m.reset();
    return m;
  }

  /**
   * Adds LoRA adapters to every matmul they target (an empty list restores the base model).
   * Written independently of the engine's stacking: each adapter's term is computed on its own.
   */
  setAdapters(adapters: ReadonlyArray<{ lora: LoraTensors; scale?: number }>): void {
    this.#lora = new Map();
    for (const { lora, scale = 1 } of adapters) {
      const factor = (scale * lora.alpha) / lora.rank;
      for (const [name, a] of lora.tensors) {
        const p = parsePeftName(name);
        if (!p) throw new Error(`reference: ${name} is not a PEFT LoRA name`);
        if (p.which !== 'A') continue;
        const b = lora.tensors.get(name.replace('lora_A', 'lora_B'));
        if (!b) throw new Error(`reference: ${name} has no lora_B`);
        const key = `blk.${p.layer}.${LORA_MODULES[p.module].gguf}.weight`;
        const terms = this.#lora.get(key) ?? [];
        terms.push({ a, b, rank: lora.rank, factor });
        this.#lora.set(key, terms);
      }
    }
    this.reset();
  }

  reset(): void {
    this.#kCache = Array.from({ length: this.cfg.nLayer }, () => []);
    this.#vCache = Array.from({ length: this.cfg.nLayer }, () => []);
  }

  #w(name: string): Float32Array {
    const t = this.#t.get(name);
    if (!t) throw new Error(`reference: tensor ${name} missing`);
    return t;
  }

  /** y = W x for W with ggml dims [in, out] (row r = out index). */
  #mat(name: string, x: Vec, out: number): Vec {
    const w = this.#w(name);
    const k = x.length;
    const y = new Float64Array(out);
    for (let r = 0; r < out; r++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += (w[r * k + i] as number) * (x[i] as number);
      y[r] = s;
    }
    for (const t of this.#lora.get(name) ?? []) {
      const mid = new Float64Array(t.rank);
      for (let j = 0; j < t.rank; j++) {
        let s = 0;
        for (let i = 0; i < k; i++) s += (t.a[j * k + i] as number) * (x[i] as number);
        mid[j] = s;
      }
      for (let r = 0; r < out; r++) {
        let s = 0;
        for (let j = 0; j < t.rank; j++) s += (t.b[r * t.rank + j] as number) * (mid[j] as number);
        y[r] = (y[r] as number) + t.factor * s;
      }
    }
    const bias = this.#t.get(name.replace('.weight', '.bias'));
    if (bias) for (let r = 0; r < out; r++) y[r] = (y[r] as number) + (bias[r] as number);
    return y;
  }

  #rmsnorm(x: Vec, name: string, off = 0, n = x.length): Vec {
    const w = this.#w(name);
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (x[off + i] as number) ** 2;
    const inv = 1 / Math.sqrt(ss / n + this.cfg.eps);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = (x[off + i] as number) * inv * (w[i] as number);
    return y;
  }

  #rope(v: Vec, nHeads: number, pos: number): void {
    const { headDim: hd, nRot, ropeBase, ropeScale, ropeNeox } = this.cfg;
    const factors = this.#t.get('rope_freqs.weight');
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < nRot / 2; i++) {
        const theta =
          (pos * ropeScale * ropeBase ** ((-2 * i) / nRot)) / (factors ? (factors[i] as number) : 1);
        const [a, b] = ropeNeox ? [i, i + nRot / 2] : [2 * i, 2 * i + 1];
        const x0 = v[h * hd + a] as number;
        const x1 = v[h * hd + b] as number;
        v[h * hd + a] = x0 * Math.cos(theta) - x1 * Math.sin(theta);
        v[h * hd + b] = x0 * Math.sin(theta) + x1 * Math.cos(theta);
      }
    }
  }

  /** Feeds one token at position `pos` (= tokens fed so far) and returns its logits. */
  step(token: number, pos: number): Float64Array {
    const c = this.cfg;
    const hd = c.headDim;
    const emb = this.#w('token_embd.weight');
    let x: Vec = new Float64Array(c.nEmbd);
    for (let i = 0; i < c.nEmbd; i++) x[i] = (emb[token * c.nEmbd + i] as number) * c.embedScale;
    for (let l = 0; l < c.nLayer; l++) {
      const b = `blk.${l}.`;
      const xn = this.#rmsnorm(x, `${b}attn_norm.weight`);
      const q = this.#mat(`${b}attn_q.weight`, xn, c.nHead * hd);
      const k = this.#mat(`${b}attn_k.weight`, xn, c.nKv * hd);
      const v = this.#mat(`${b}attn_v.weight`, xn, c.nKv * hd);
      if (c.qkNorm) {
        for (let h = 0; h < c.nHead; h++)
          q.set(this.#rmsnorm(q, `${b}attn_q_norm.weight`, h * hd, hd), h * hd);
        for (let h = 0; h < c.nKv; h++) k.set(this.#rmsnorm(k, `${b}attn_k_norm.weight`, h * hd, hd), h * hd);
      }
      this.#rope(q, c.nHead, pos);
      this.#rope(k, c.nKv, pos);
      this.#kCache[l]![pos] = k;
      this.#vCache[l]![pos] = v;
      const window = layerWindow(c, l);
      const first = window > 0 ? Math.max(0, pos - window + 1) : 0;
      const attn = new Float64Array(c.nHead * hd);
      for (let h = 0; h < c.nHead; h++) {
        const kvh = Math.floor(h / (c.nHead / c.nKv));
        const scores: number[] = [];
        for (let j = first; j <= pos; j++) {
          const kj = this.#kCache[l]![j]!;
          let s = 0;
          for (let d = 0; d < hd; d++) s += (q[h * hd + d] as number) * (kj[kvh * hd + d] as number);
          s *= c.attnScale;
          if (c.attnSoftcap > 0) s = c.attnSoftcap * Math.tanh(s / c.attnSoftcap);
          scores.push(s);
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const sum = e.reduce((a, z) => a + z, 0);
        for (let d = 0; d < hd; d++) {
          let acc = 0;
          e.forEach((p, jj) => (acc += p * (this.#vCache[l]![first + jj]![kvh * hd + d] as number)));
          attn[h * hd + d] = acc / sum;
        }
      }
      let o = this.#mat(`${b}attn_output.weight`, attn, c.nEmbd);
      if (c.postNorms) o = this.#rmsnorm(o, `${b}post_attention_norm.weight`);
      x = x.map((xi, i) => xi + (o[i] as number));
      const fn = this.#rmsnorm(x, `${b}ffn_norm.weight`);
      const g = this.#mat(`${b}ffn_gate.weight`, fn, c.nFf);
      const u = this.#mat(`${b}ffn_up.weight`, fn, c.nFf);
      const a = g.map((gi, i) => {
        const act = c.gelu
          ? 0.5 * gi * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * gi * (1 + 0.044715 * gi * gi)))
          : gi / (1 + Math.exp(-gi));
        return act * (u[i] as number);
      });
      let d = this.#mat(`${b}ffn_down.weight`, a, c.nEmbd);
      if (c.postNorms) d = this.#rmsnorm(d, `${b}post_ffw_norm.weight`);
      x = x.map((xi, i) => xi + (d[i] as number));
    }
    const xn = this.#rmsnorm(x, 'output_norm.weight');
    const outName = this.#t.has('output.weight') ? 'output.weight' : 'token_embd.weight';
    const logits = this.#mat(outName, xn, c.nVocab);
    if (c.finalSoftcap > 0) return logits.map((z) => c.finalSoftcap * Math.tanh(z / c.finalSoftcap));
    return logits;
  }

  /** Logits after feeding all tokens from position 0. */
  logits(tokens: number[]): Float64Array {
    this.reset();
    let out: Float64Array = new Float64Array(0);
    tokens.forEach((t, p) => (out = this.step(t, p)));
    return out;
  }
}
