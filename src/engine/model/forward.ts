/**
 * The forward pass of a decoder-only transformer as a fixed list of GPU dispatches, built once per
 * loaded model. A step writes the token ids and the step uniform, records every dispatch into one
 * compute pass of one command buffer, and reads back either the sampled token id (4 bytes) or the
 * last position's logits. Activation buffers are sized for `maxBatch` tokens; nothing is allocated
 * per token.
 */
import { DureError } from '../errors.ts';
import { KernelLibrary } from '../gpu/kernel-library.ts';
import { Ops, recordDispatches, type Dispatch } from '../gpu/ops.ts';
import { encodeStep, STEP_BYTES } from '../gpu/params.ts';
import { UniformArena } from '../gpu/uniform-arena.ts';
import { layerWindow, type ModelConfig } from './config.ts';
import { ropeTable } from './rope-table.ts';
import type { ModelWeights } from './weights.ts';

export class ContextOverflowError extends DureError {
  override name = 'ContextOverflowError';
  constructor(message: string) {
    super('CONTEXT_OVERFLOW', message);
  }
}

export interface ForwardOptions {
  /** KV cache length in tokens. */
  contextLength: number;
  /** Tokens per forward step (prefill is chunked to this). */
  maxBatch: number;
  subgroups: boolean;
}

/** GPU bytes of activations and KV cache for a config and options (for the fit check). */
export function forwardBytes(
  cfg: ModelConfig,
  o: Pick<ForwardOptions, 'contextLength' | 'maxBatch'>,
): number {
  const q = cfg.nHead * cfg.headDim;
  const kvw = cfg.nKv * cfg.headDim;
  const kv = 2 * cfg.nLayer * o.contextLength * kvw * 4;
  const act = o.maxBatch * (3 * cfg.nEmbd + 3 * q + 3 * kvw + 3 * cfg.nFf) * 4 + o.maxBatch * 4;
  return kv + act + o.contextLength * cfg.nRot * 4 + cfg.nVocab * 4 + 64;
}

export class ForwardPass {
  readonly #device: GPUDevice;
  readonly #buffers: GPUBuffer[] = [];
  readonly #arena: UniformArena;
  readonly #ops: Ops;
  readonly #stepBuffer: GPUBuffer;
  /** Reused for every step's uniform upload: nothing is allocated per token. */
  readonly #stepData = new ArrayBuffer(STEP_BYTES);
  readonly #ids: GPUBuffer;
  readonly #logits: GPUBuffer;
  readonly #sampled: GPUBuffer;
  readonly #readId: GPUBuffer;
  readonly #readLogits: GPUBuffer;
  #body: Dispatch[] = [];
  #head: Dispatch[] = [];
  #argmax: Dispatch[] = [];
  readonly kvBytes: number;

  private constructor(
    device: GPUDevice,
    readonly cfg: ModelConfig,
    readonly weights: ModelWeights,
    readonly opts: ForwardOptions,
  ) {
    this.#device = device;
    this.#arena = new UniformArena(device);
    this.#stepBuffer = device.createBuffer({
      label: 'step',
      size: STEP_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.#ops = new Ops(KernelLibrary.for(device), this.#arena, this.#stepBuffer, {
      subgroups: opts.subgroups,
    });
    this.#ids = this.#storage('ids', opts.maxBatch * 4);
    this.#logits = this.#storage('logits', cfg.nVocab * 4);
    this.#sampled = this.#storage('sampled', 16);
    this.#readId = device.createBuffer({
      label: 'read-id',
      size: 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#readLogits = device.createBuffer({
      label: 'read-logits',
      size: cfg.nVocab * 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.kvBytes = 2 * cfg.nLayer * opts.contextLength * cfg.nKv * cfg.headDim * 4;
  }

  #storage(label: string, bytes: number): GPUBuffer {
    const b = this.#device.createBuffer({
      label,
      size: Math.max(16, Math.ceil(bytes / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    this.#buffers.push(b);
    return b;
  }

  static async create(
    device: GPUDevice,
    cfg: ModelConfig,
    weights: ModelWeights,
    opts: ForwardOptions,
  ): Promise<ForwardPass> {
    const f = new ForwardPass(device, cfg, weights, opts);
    try {
      await f.#build();
    } catch (e) {
      f.destroy();
      throw e;
    }
    return f;
  }

  async #build(): Promise<void> {
    const { cfg, weights: w, opts } = this;
    const ops = this.#ops;
    const B = opts.maxBatch;
    const q = cfg.nHead * cfg.headDim;
    const kvw = cfg.nKv * cfg.headDim;
    const hidden = this.#storage('hidden', B * cfg.nEmbd * 4);
    const xn = this.#storage('xn', B * cfg.nEmbd * 4);
    const tmp = this.#storage('tmp', B * cfg.nEmbd * 4);
    const qb = this.#storage('q', B * q * 4);
    const kb = this.#storage('k', B * kvw * 4);
    const vb = this.#storage('v', B * kvw * 4);
    const attn = this.#storage('attn', B * q * 4);
    const gate = this.#storage('gate', B * cfg.nFf * 4);
    const up = this.#storage('up', B * cfg.nFf * 4);
    const act = this.#storage('act', B * cfg.nFf * 4);
    const lastNorm = this.#storage('last-norm', cfg.nEmbd * 4);
    // Qwen3 normalises q and k per head before RoPE; a kernel may not read and write one buffer.
    const qn = cfg.qkNorm ? this.#storage('q-normed', B * q * 4) : qb;
    const kn = cfg.qkNorm ? this.#storage('k-normed', B * kvw * 4) : kb;
    const table = ropeTable({
      positions: opts.contextLength,
      nRot: cfg.nRot,
      freqBase: cfg.ropeBase,
      freqScale: cfg.ropeScale,
      ...(w.ropeFactors ? { factors: w.ropeFactors } : {}),
    });
    const cosSin = this.#storage('rope-cos-sin', table.byteLength);
    this.#device.queue.writeBuffer(cosSin, 0, table);

    const body: Dispatch[] = [];
    body.push(
      ...(await ops.embedding({ table: w.tokenEmbd, ids: this.#ids, out: hidden, scale: cfg.embedScale })),
    );
    for (let i = 0; i < cfg.nLayer; i++) {
      const L = w.layers[i]!;
      const kCache = this.#storage(`k-cache-${i}`, opts.contextLength * kvw * 4);
      const vCache = this.#storage(`v-cache-${i}`, opts.contextLength * kvw * 4);
      body.push(await ops.rmsnorm({ x: hidden, weight: L.attnNorm, out: xn, n: cfg.nEmbd, eps: cfg.eps }));
      body.push(...(await ops.matmul({ weight: L.wq, x: xn, out: qb, ...(L.bq ? { bias: L.bq } : {}) })));
      body.push(...(await ops.matmul({ weight: L.wk, x: xn, out: kb, ...(L.bk ? { bias: L.bk } : {}) })));
      body.push(...(await ops.matmul({ weight: L.wv, x: xn, out: vb, ...(L.bv ? { bias: L.bv } : {}) })));
      if (L.qNorm && L.kNorm) {
        const hd = cfg.headDim;
        body.push(
          await ops.rmsnorm({
            x: qb,
            weight: L.qNorm,
            out: qn,
            n: hd,
            eps: cfg.eps,
            rowsPerToken: cfg.nHead,
          }),
        );
        body.push(
          await ops.rmsnorm({ x: kb, weight: L.kNorm, out: kn, n: hd, eps: cfg.eps, rowsPerToken: cfg.nKv }),
        );
      }
      body.push(
        await ops.ropeStore({
          q: qn,
          k: kn,
          v: vb,
          kCache,
          vCache,
          cosSin,
          neox: cfg.ropeNeox,
          nHead: cfg.nHead,
          nKv: cfg.nKv,
          headDim: cfg.headDim,
          nRot: cfg.nRot,
        }),
      );
      body.push(
        await ops.attention({
          q: qn,
          kCache,
          vCache,
          out: attn,
          nHead: cfg.nHead,
          nKv: cfg.nKv,
          headDim: cfg.headDim,
          scale: cfg.attnScale,
          softcap: cfg.attnSoftcap,
          window: layerWindow(cfg, i),
        }),
      );
      if (L.attnPostNorm) {
        body.push(...(await ops.matmul({ weight: L.wo, x: attn, out: tmp })));
        body.push(
          await ops.rmsnorm({
            x: tmp,
            weight: L.attnPostNorm,
            out: hidden,
            n: cfg.nEmbd,
            eps: cfg.eps,
            add: true,
          }),
        );
      } else {
        body.push(...(await ops.matmul({ weight: L.wo, x: attn, out: hidden, accumulate: true })));
      }
      body.push(await ops.rmsnorm({ x: hidden, weight: L.ffnNorm, out: xn, n: cfg.nEmbd, eps: cfg.eps }));
      body.push(...(await ops.matmul({ weight: L.wGate, x: xn, out: gate })));
      body.push(...(await ops.matmul({ weight: L.wUp, x: xn, out: up })));
      body.push(await ops.gatedActivation({ gate, up, out: act, nFf: cfg.nFf, gelu: cfg.gelu }));
      if (L.ffnPostNorm) {
        body.push(...(await ops.matmul({ weight: L.wDown, x: act, out: tmp })));
        body.push(
          await ops.rmsnorm({
            x: tmp,
            weight: L.ffnPostNorm,
            out: hidden,
            n: cfg.nEmbd,
            eps: cfg.eps,
            add: true,
          }),
        );
      } else {
        body.push(...(await ops.matmul({ weight: L.wDown, x: act, out: hidden, accumulate: true })));
      }
    }
    this.#body = body;
    this.#head = [
      await ops.rmsnorm({
        x: hidden,
        weight: w.outputNorm,
        out: lastNorm,
        n: cfg.nEmbd,
        eps: cfg.eps,
        lastToken: true,
      }),
      ...(await ops.matmul({
        weight: w.output,
        x: lastNorm,
        out: this.#logits,
        ...(cfg.finalSoftcap > 0 ? { softcap: cfg.finalSoftcap } : {}),
      })),
    ];
    this.#argmax = [await ops.argmax({ logits: this.#logits, result: this.#sampled, n: cfg.nVocab })];
  }

  /** Dispatches per forward step for one token (for benchmarks). */
  get dispatchCount(): number {
    return this.#body.length + this.#head.length + this.#argmax.length;
  }

  /** GPU bytes this pass allocated (activations, KV cache, uniforms, readback). */
  get bytes(): number {
    return (
      this.#buffers.reduce((s, b) => s + b.size, 0) +
      this.#arena.bytes +
      16 +
      this.cfg.nVocab * 4 +
      STEP_BYTES
    );
  }

  #record(ids: Uint32Array, pos: number, output: 'none' | 'argmax' | 'logits'): void {
    const n = ids.length;
    if (n === 0 || n > this.opts.maxBatch)
      throw new DureError('BATCH_SIZE', `batch of ${n} tokens (max ${this.opts.maxBatch})`);
    if (pos + n > this.opts.contextLength) {
      throw new ContextOverflowError(
        `positions ${pos}..${pos + n - 1} exceed the context of ${this.opts.contextLength}`,
      );
    }
    for (const id of ids) {
      if (id >= this.cfg.nVocab)
        throw new DureError('TOKEN_ID', `token id ${id} is outside the vocabulary of ${this.cfg.nVocab}`);
    }
    const q = this.#device.queue;
    q.writeBuffer(this.#ids, 0, ids.buffer, ids.byteOffset, ids.byteLength);
    q.writeBuffer(this.#stepBuffer, 0, encodeStep({ nTokens: n, pos }, this.#stepData));
    const enc = this.#device.createCommandEncoder({ label: 'forward' });
    const pass = enc.beginComputePass();
    recordDispatches(pass, this.#body, n);
    if (output !== 'none') recordDispatches(pass, this.#head, n);
    if (output === 'argmax') recordDispatches(pass, this.#argmax, n);
    pass.end();
    if (output === 'argmax') enc.copyBufferToBuffer(this.#sampled, 0, this.#readId, 0, 4);
    if (output === 'logits')
      enc.copyBufferToBuffer(this.#logits, 0, this.#readLogits, 0, this.cfg.nVocab * 4);
    q.submit([enc.finish()]);
  }

  /** Runs tokens at positions pos.. without producing output (prefill chunks). */
  run(ids: Uint32Array, pos: number): void {
    this.#record(ids, pos, 'none');
  }

  /** Runs tokens and returns the greedy next token (4-byte readback). */
  async runArgmax(ids: Uint32Array, pos: number): Promise<number> {
    this.#record(ids, pos, 'argmax');
    await this.#readId.mapAsync(GPUMapMode.READ);
    try {
      return new Uint32Array(this.#readId.getMappedRange(0, 4))[0] as number;
    } finally {
      this.#readId.unmap();
    }
  }

  /** Runs tokens and returns the last position's logits (a copy). */
  async runLogits(ids: Uint32Array, pos: number): Promise<Float32Array> {
    this.#record(ids, pos, 'logits');
    await this.#readLogits.mapAsync(GPUMapMode.READ);
    try {
      return new Float32Array(this.#readLogits.getMappedRange().slice(0));
    } finally {
      this.#readLogits.unmap();
    }
  }

  destroy(): void {
    for (const b of this.#buffers) b.destroy();
    this.#buffers.length = 0;
    this.#readId.destroy();
    this.#readLogits.destroy();
    this.#stepBuffer.destroy();
    this.#arena.destroy();
    this.#ops.destroy();
  }
}
