/**
 * The forward pass of a decoder-only transformer as a fixed list of GPU dispatches, built once per
 * loaded model. A step writes the token ids and the step uniform, records every dispatch into one
 * compute pass of one command buffer, and reads back either the sampled token id (4 bytes) or the
 * last position's logits. Activation buffers are sized for `maxBatch` tokens; nothing is allocated
 * per token.
 */
import { partialsBytes } from '../gpu/attention-plan.ts';
import { KernelLibrary } from '../gpu/kernel-library.ts';
import { GEMM_MIN_TOKENS } from '../gpu/matmul-shape.ts';
import { Ops, recordDispatches, type Dispatch } from '../gpu/ops.ts';
import { encodeDrawParams, encodeStep, encodeTopKParams, STEP_BYTES } from '../gpu/params.ts';
import { UniformArena } from '../gpu/uniform-arena.ts';
import type { LoraModule, StackedLora } from '../lora/adapter.ts';
import { ropeHeads, ropeVariants, type ModelConfig } from './config.ts';
import { buildEndGraph, buildLayerGraph, fuseRuns, type GraphValue } from './layer-graph.ts';
import { endForward, layerForward, type LayerBindings } from './layer-forward.ts';
import { layerRopeTables } from './rope-table.ts';
import type { ModelWeights } from './weights.ts';
import { ContextOverflowError } from '../../protocol/errors.ts';
import {
  EngineRequestError,
  EngineStateError,
  LoraAdapterError,
  TokenIdError,
} from '../../protocol/errors.ts';
export { ContextOverflowError };

/** Where a LoRA term goes: right after the base matmul of `module` in `layer`, before any consumer. */
interface LoraHook {
  hook: `${number}:${LoraModule}`;
  x: GPUBuffer;
  out: GPUBuffer;
}

/**
 * One fused dispatch standing for a run of separate ones. LoRA terms must land between a
 * projection and what consumes it (before RoPE, before the activation), so while an adapter
 * targets one of `hooks` the section runs `unfused`, with the terms spliced in.
 */
interface FusedSection {
  fused: Dispatch;
  unfused: (Dispatch | LoraHook)[];
  hooks: LoraHook['hook'][];
}

type BodyEntry = Dispatch | LoraHook | FusedSection;

/** GPU state of the active adapters, replaced as a whole on every swap. */
interface LoraState {
  buffers: GPUBuffer[];
  arena: UniformArena;
  dispatches: Map<string, Dispatch[]>;
  bytes: number;
}

export interface ForwardOptions {
  /** KV cache length in tokens. */
  contextLength: number;
  /** Tokens per forward step (prefill is chunked to this). */
  maxBatch: number;
  subgroups: boolean;
  /** Keep the KV cache as f16 (half the memory and attention reads; logits move ~1e-3). */
  kvF16?: boolean;
  /**
   * Fuse norm + q/k/v + RoPE + KV append, and norm + gate/up + activation, into one dispatch each
   * (default true; false runs the separate kernels, for comparisons).
   */
  fused?: boolean;
  /** f16 arithmetic in prefill products (needs `shader-f16`; logits move ~1e-3). */
  f16?: boolean;
  /** GPU-shaped weight products (OpsOptions.gpuMatmul); default: not on CPU-emulated adapters. */
  gpuMatmul?: boolean;
}

/** GPU bytes of activations and KV cache for a config and options (for the fit check). */
export function forwardBytes(
  cfg: ModelConfig,
  o: Pick<ForwardOptions, 'contextLength' | 'maxBatch' | 'kvF16'>,
): number {
  const q = cfg.nHead * cfg.headDim;
  const kvw = cfg.nKv * cfg.headDim;
  const kv = 2 * cfg.nLayer * o.contextLength * kvw * (o.kvF16 ? 2 : 4);
  const partials = partialsBytes({
    nHead: cfg.nHead,
    nKv: cfg.nKv,
    headDim: cfg.headDim,
    contextLength: o.contextLength,
  });
  const act = o.maxBatch * (3 * cfg.nEmbd + 3 * q + 3 * kvw + 3 * cfg.nFf) * 4 + o.maxBatch * 4;
  const tables = ropeVariants(cfg).variants.length;
  return kv + partials + act + tables * o.contextLength * cfg.nRot * 4 + cfg.nVocab * 4 + 64;
}

/** Most candidates a non-greedy step can ask the GPU for (llama.cpp's default top-k is 40). */
export const MAX_TOP_K = 256;
/** No penalty ids: shared, so a step allocates nothing for them. */
const NO_IDS = new Uint32Array(0);

/** Most distinct recent ids the GPU repetition penalty takes per step. */
export const MAX_PENALTY_IDS = 256;

/**
 * How a step of the GPU token loop picks its token: greedy without a penalty is an argmax;
 * otherwise the repetition penalty and top-k run on the GPU, then the draw (sampling.wgsl `draw`).
 */
export interface DecodeDraw {
  greedy: boolean;
  /** Candidates for the draw, 1..MAX_TOP_K (1 for greedy with a penalty). */
  k: number;
  temperature: number;
  topP: number;
  minP: number;
  /** Repetition penalty; 1 = none. */
  penalty: number;
}

/** The best k (id, logit) pairs of a step, sorted by logit (lowest id first on ties). */
export interface Candidates {
  ids: number[];
  logits: number[];
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
  readonly #readLogits: GPUBuffer;
  readonly #penaltyIds: GPUBuffer;
  readonly #candidates: GPUBuffer;
  readonly #topKParams: GPUBuffer;
  readonly #topKData = new ArrayBuffer(16);
  readonly #drawParams: GPUBuffer;
  readonly #drawData = new ArrayBuffer(32);
  /** Two readback slots: step n+1 is submitted while step n's id is still on its way back. */
  readonly #readSlots: GPUBuffer[];
  #nextSlot = 0;
  #inFlight = 0;
  #topK: Dispatch[] = [];
  /** Penalty, top-k and draw: the non-argmax tail of a token-loop step. */
  #drawChain: Dispatch[] = [];
  readonly #fed = new Uint32Array(1);
  #body: Dispatch[] = [];
  /** #body for batches of GEMM_MIN_TOKENS or more (see #assemble). */
  #prefillBody: Dispatch[] = [];
  /** The body with LoRA hooks; #body is this with the active adapters' dispatches spliced in. */
  #base: BodyEntry[] = [];
  #lora: LoraState | undefined;
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
      f16: !!opts.f16,
      gpuMatmul: opts.gpuMatmul,
    });
    this.#ids = this.#storage('ids', opts.maxBatch * 4);
    this.#logits = this.#storage('logits', cfg.nVocab * 4);
    this.#sampled = this.#storage('sampled', 16);
    this.#readLogits = device.createBuffer({
      label: 'read-logits',
      size: cfg.nVocab * 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#penaltyIds = this.#storage('penalty-ids', MAX_PENALTY_IDS * 4);
    this.#candidates = this.#storage('candidates', 4 + 8 * MAX_TOP_K);
    this.#topKParams = device.createBuffer({
      label: 'top-k-params',
      size: 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.#drawParams = device.createBuffer({
      label: 'draw-params',
      size: 32,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.#readSlots = [0, 1].map((i) =>
      device.createBuffer({
        label: `read-token-${i}`,
        size: 16,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      }),
    );
    this.kvBytes = 2 * cfg.nLayer * opts.contextLength * cfg.nKv * cfg.headDim * (opts.kvF16 ? 2 : 4);
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
    // One cos/sin table per distinct layer RoPE; a layer without RoPE reads an identity table.
    const ropes = layerRopeTables(cfg, opts.contextLength, w.ropeFactors);
    const ofLayer = ropes.ofLayer;
    const tables = ropes.tables.map((table, v) => {
      const buffer = this.#storage(`rope-cos-sin-${v}`, table.byteLength);
      this.#device.queue.writeBuffer(buffer, 0, table);
      return buffer;
    });

    // Split-KV decode partials: layers run one after another, so one scratch serves them all.
    const partials = this.#storage(
      'attn-partials',
      partialsBytes({
        nHead: cfg.nHead,
        nKv: cfg.nKv,
        headDim: cfg.headDim,
        contextLength: opts.contextLength,
      }),
    );
    const body: BodyEntry[] = [];
    const ends = buildEndGraph(cfg);
    const endBindings = {
      ops,
      cfg,
      weights: w,
      ids: this.#ids,
      hidden,
      normed: lastNorm,
      logits: this.#logits,
      lastToken: true,
    };
    body.push(...(await endForward(ends.before, endBindings)));
    for (let i = 0; i < cfg.nLayer; i++) {
      const L = w.layers[i]!;
      const kvElem = opts.kvF16 ? 2 : 4;
      const kCache = this.#storage(`k-cache-${i}`, opts.contextLength * kvw * kvElem);
      const vCache = this.#storage(`v-cache-${i}`, opts.contextLength * kvw * kvElem);
      const cosSin = tables[ofLayer[i]!]!;
      // Inference binds the graph's values to one shared set; the residual stream is updated in place.
      const values: Record<GraphValue, GPUBuffer> = {
        res_in: hidden,
        res_mid: hidden,
        res_out: hidden,
        xn_attn: xn,
        xn_ffn: xn,
        q_raw: qb,
        k_raw: kb,
        q: qn,
        k: kn,
        v: vb,
        kv_cache: kCache,
        attn,
        o: tmp,
        down: tmp,
        gate,
        up,
        act,
      };
      const bindings: LayerBindings<LoraHook> = {
        ops,
        cfg,
        weights: L,
        value: (v) => values[v],
        kCache,
        vCache,
        cosSin,
        kvF16: !!opts.kvF16,
        partials,
        afterProj: (n, x, out) => [{ hook: `${i}:${n.name}`, x, out }],
        beforeResidual: () => [],
      };
      for (const run of fuseRuns(buildLayerGraph(cfg, i, L))) {
        const unfused = await layerForward(run.nodes, bindings);
        const fused =
          run.fuse === 'qkv'
            ? await this.#fusedQkv(i, L, { hidden, qn, kCache, vCache, cosSin })
            : run.fuse === 'glu'
              ? await this.#fusedGlu(L, { hidden, act })
              : undefined;
        if (!fused) body.push(...unfused);
        else body.push({ fused, unfused, hooks: unfused.flatMap((e) => ('hook' in e ? [e.hook] : [])) });
      }
    }
    this.#base = body;
    this.#assemble();
    this.#head = await endForward(ends.after, endBindings);
    this.#argmax = [await ops.argmax({ logits: this.#logits, result: this.#sampled, n: cfg.nVocab })];
    this.#topK = await ops.penaltyTopK({
      logits: this.#logits,
      penaltyIds: this.#penaltyIds,
      candidates: this.#candidates,
      params: this.#topKParams,
      maxPenaltyIds: MAX_PENALTY_IDS,
    });
    this.#drawChain = [
      ...this.#topK,
      await ops.draw({ candidates: this.#candidates, result: this.#sampled, params: this.#drawParams }),
    ];
  }

  /**
   * The graph-level rewrite of the 'qkv' run (attn_norm, q/k/v, q/k norms, rope_store) into one
   * fused dispatch, or undefined where the run must stay separate: fused off, a layer without a
   * pre-norm (the fused kernel normalises its input), or one holding only some biases/head norms.
   * Also separate wherever the GPU-shaped products run (real GPUs): the fused kernel needs a whole
   * head per workgroup (RoPE pairs and q/k norms span it), so it launches n_head + 2·n_kv
   * workgroups — 16 for Qwen2.5-1.5B — each walking its 128 rows one subgroup-row at a time, far
   * too few to hide memory latency on a GPU, where the separate GEMVs launch ≥ 96 for q alone.
   */
  async #fusedQkv(
    layer: number,
    L: ModelWeights['layers'][number],
    b: { hidden: GPUBuffer; qn: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer; cosSin: GPUBuffer },
  ): Promise<Dispatch | undefined> {
    const { cfg, opts } = this;
    const partial =
      [L.bq, L.bk, L.bv].filter(Boolean).length % 3 || [L.qNorm, L.kNorm].filter(Boolean).length % 2;
    if (opts.fused === false || partial || !L.attnNorm || this.#ops.gpuMatmul) return undefined;
    return this.#ops.qkv({
      wq: L.wq,
      wk: L.wk,
      wv: L.wv,
      x: b.hidden,
      normWeight: L.attnNorm,
      eps: cfg.eps,
      q: b.qn,
      kCache: b.kCache,
      vCache: b.vCache,
      cosSin: b.cosSin,
      ...ropeHeads(cfg),
      kvF16: !!opts.kvF16,
      ...this.#layerVectors(layer, L),
    });
  }

  /** The 'glu' run (ffn_norm, gate, up, glu) as one fused dispatch, when the layer has a pre-norm. */
  async #fusedGlu(
    L: ModelWeights['layers'][number],
    b: { hidden: GPUBuffer; act: GPUBuffer },
  ): Promise<Dispatch | undefined> {
    if (this.opts.fused === false || !L.ffnNorm) return undefined;
    return this.#ops.glu({
      wGate: L.wGate,
      wUp: L.wUp,
      x: b.hidden,
      normWeight: L.ffnNorm,
      eps: this.cfg.eps,
      out: b.act,
      gelu: this.cfg.gelu,
    });
  }

  /**
   * bq|bk|bv and the q/k head-norm weights of a layer copied into one buffer, so the fused qkv
   * kernel reads them through one binding (WebGPU guarantees only 8 storage buffers per stage).
   */
  #layerVectors(
    layer: number,
    L: ModelWeights['layers'][number],
  ): { vecs?: { buffer: GPUBuffer; biasOff?: number; qNormOff?: number; kNormOff?: number } } {
    const parts: [GPUBuffer | undefined, number][] = [
      [L.bq, this.cfg.nHead * this.cfg.headDim],
      [L.bk, this.cfg.nKv * this.cfg.headDim],
      [L.bv, this.cfg.nKv * this.cfg.headDim],
      [L.qNorm, this.cfg.headDim],
      [L.kNorm, this.cfg.headDim],
    ];
    const hasBias = !!(L.bq && L.bk && L.bv);
    const hasNorm = !!(L.qNorm && L.kNorm);
    if (!hasBias && !hasNorm) return {};
    const used = parts.filter(([, n], i) => (i < 3 ? hasBias : hasNorm) && n > 0);
    const buffer = this.#storage(
      `layer-vectors-${layer}`,
      used.reduce((s, [, n]) => s + n * 4, 0),
    );
    const enc = this.#device.createCommandEncoder({ label: `layer-vectors-${layer}` });
    const offsets: number[] = [];
    let off = 0;
    parts.forEach(([b, n], i) => {
      offsets.push(off);
      if (!b || !(i < 3 ? hasBias : hasNorm)) return;
      enc.copyBufferToBuffer(b, 0, buffer, off * 4, n * 4);
      off += n;
    });
    this.#device.queue.submit([enc.finish()]);
    return {
      vecs: {
        buffer,
        ...(hasBias ? { biasOff: offsets[0]! } : {}),
        ...(hasNorm ? { qNormOff: offsets[3]!, kNormOff: offsets[4]! } : {}),
      },
    };
  }

  /** The step's body: base dispatches with the active adapters' terms after their matmuls. */
  #assemble(): void {
    const lora = this.#lora;
    const expand = (e: Dispatch | LoraHook): Dispatch[] =>
      'hook' in e ? (lora?.dispatches.get(e.hook) ?? []) : [e];
    this.#body = this.#base.flatMap((e) => {
      if (!('fused' in e)) return expand(e);
      return e.hooks.some((h) => lora?.dispatches.has(h)) ? e.unfused.flatMap(expand) : [e.fused];
    });
    // Batches the tiled GEMM serves take the separate kernels: the fused ones multiply a tile of
    // 4 tokens at a time, so a 64-token chunk would read their weights 16 times instead of once.
    this.#prefillBody = this.#ops.gpuMatmul
      ? this.#base.flatMap((e) => ('fused' in e ? e.unfused : [e]).flatMap(expand))
      : this.#body;
  }

  /** The body a step of `n` tokens records. */
  #bodyFor(n: number): Dispatch[] {
    return n >= GEMM_MIN_TOKENS ? this.#prefillBody : this.#body;
  }

  /**
   * Replaces the LoRA terms (an empty list restores the base model). Only the adapters' small
   * buffers, uniforms and bind groups are built; base weights and the KV cache buffers stay.
   * The caller must forget cached keys/values: they were computed with the previous adapters.
   */
  async setLora(stacked: readonly StackedLora[]): Promise<void> {
    const old = this.#lora;
    if (stacked.length === 0) {
      this.#lora = undefined;
    } else {
      const hooks = new Map<string, LoraHook>();
      for (const e of this.#base.flatMap((e) => ('fused' in e ? e.unfused : [e])))
        if ('hook' in e) hooks.set(e.hook, e);
      const state: LoraState = {
        buffers: [],
        arena: new UniformArena(this.#device),
        dispatches: new Map(),
        bytes: 0,
      };
      const buffer = (label: string, data: Float32Array | number): GPUBuffer => {
        const bytes = typeof data === 'number' ? data : data.byteLength;
        const b = this.#device.createBuffer({
          label,
          size: Math.max(16, Math.ceil(bytes / 16) * 16),
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
        });
        state.buffers.push(b);
        state.bytes += b.size;
        if (typeof data !== 'number')
          this.#device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, bytes);
        return b;
      };
      try {
        const maxRank = Math.max(...stacked.map((s) => s.rank));
        const tmp = buffer('lora-t', this.opts.maxBatch * maxRank * 4);
        for (const s of stacked) {
          const key = `${s.layer}:${s.module}` as const;
          const h = hooks.get(key);
          if (!h) throw new LoraAdapterError(`the forward pass has no ${s.module} in layer ${s.layer}`);
          const dispatches = await this.#ops.lora({
            a: buffer(`lora-a-${key}`, s.a),
            b: buffer(`lora-b-${key}`, s.b),
            x: h.x,
            tmp,
            out: h.out,
            inFeatures: s.inFeatures,
            outFeatures: s.outFeatures,
            rank: s.rank,
            arena: state.arena,
          });
          state.dispatches.set(key, dispatches);
        }
      } catch (e) {
        for (const b of state.buffers) b.destroy();
        state.arena.destroy();
        throw e;
      }
      this.#lora = state;
    }
    this.#assemble();
    // Work already submitted keeps the old buffers alive until it completes (WebGPU defers destroy).
    if (old) {
      for (const b of old.buffers) b.destroy();
      old.arena.destroy();
    }
  }

  /** GPU bytes of the active adapters. */
  get loraBytes(): number {
    return this.#lora ? this.#lora.bytes + this.#lora.arena.bytes : 0;
  }

  /** Dispatches per forward step for one token (for benchmarks); paths a step skips do not count. */
  get dispatchCount(): number {
    return [...this.#body, ...this.#head, ...this.#argmax].filter((d) => d.grid(1).every((g) => g > 0))
      .length;
  }

  /** The kernel of every dispatch of the step's layers, in order (the trainer's forward is checked against it). */
  get bodyKernelLabels(): string[] {
    return this.#body.map((d) => d.kernel.label);
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

  #checkStep(ids: Uint32Array, n: number, pos: number): void {
    if (n === 0 || n > this.opts.maxBatch)
      throw new EngineRequestError(`batch of ${n} tokens (max ${this.opts.maxBatch})`, 'BATCH_SIZE');
    if (pos + n > this.opts.contextLength) {
      throw new ContextOverflowError(
        `positions ${pos}..${pos + n - 1} exceed the context of ${this.opts.contextLength}`,
      );
    }
    for (const id of ids) {
      if (id >= this.cfg.nVocab)
        throw new TokenIdError(`token id ${id} is outside the vocabulary of ${this.cfg.nVocab}`);
    }
  }

  #record(ids: Uint32Array, pos: number, output: 'none' | 'logits'): void {
    const n = ids.length;
    this.#checkStep(ids, n, pos);
    const q = this.#device.queue;
    q.writeBuffer(this.#ids, 0, ids.buffer, ids.byteOffset, ids.byteLength);
    q.writeBuffer(this.#stepBuffer, 0, encodeStep({ nTokens: n, pos }, this.#stepData));
    const enc = this.#device.createCommandEncoder({ label: 'forward' });
    const pass = enc.beginComputePass();
    recordDispatches(pass, this.#bodyFor(n), n);
    if (output !== 'none') recordDispatches(pass, this.#head, n);
    pass.end();
    if (output === 'logits')
      enc.copyBufferToBuffer(this.#logits, 0, this.#readLogits, 0, this.cfg.nVocab * 4);
    q.submit([enc.finish()]);
  }

  /**
   * GPU milliseconds of each kernel variant in one step of `ids` at `pos` (summed by pipeline
   * label), from timestamp queries around one compute pass per dispatch: where a step's time goes.
   * The step really runs (it writes the KV cache). For benchmarks; needs `timestamp-query`.
   */
  async profileStep(ids: Uint32Array, pos: number): Promise<Map<string, number>> {
    if (!this.#device.features.has('timestamp-query'))
      throw new EngineRequestError('profiling needs the timestamp-query feature', 'NO_TIMESTAMPS');
    const n = ids.length;
    const list = [...this.#bodyFor(n), ...this.#head, ...this.#argmax];
    const q = this.#device.queue;
    q.writeBuffer(this.#ids, 0, ids.buffer, ids.byteOffset, ids.byteLength);
    q.writeBuffer(this.#stepBuffer, 0, encodeStep({ nTokens: n, pos }, this.#stepData));
    const querySet = this.#device.createQuerySet({ type: 'timestamp', count: 2 * list.length });
    const bytes = 16 * list.length;
    const resolve = this.#device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const read = this.#device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const enc = this.#device.createCommandEncoder({ label: 'profile' });
      list.forEach((d, i) => {
        const pass = enc.beginComputePass({
          timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
        });
        recordDispatches(pass, [d], n);
        pass.end();
      });
      enc.resolveQuerySet(querySet, 0, 2 * list.length, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, bytes);
      q.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(read.getMappedRange().slice(0));
      const ms = new Map<string, number>();
      list.forEach((d, i) => {
        const dt = Number(t[2 * i + 1]! - t[2 * i]!) / 1e6;
        const { label } = (d.forTokens?.(n) ?? d).kernel;
        ms.set(label, (ms.get(label) ?? 0) + dt);
      });
      return ms;
    } finally {
      querySet.destroy();
      resolve.destroy();
      read.destroy();
    }
  }

  /** Runs tokens at positions pos.. without producing output (prefill chunks). */
  run(ids: Uint32Array, pos: number): void {
    this.#record(ids, pos, 'none');
  }

  /**
   * One step of the token loop on the GPU: runs the fed token at `pos`, picks the next one on the
   * GPU (`draw`), writes it where the next step's embedding lookup reads it, and reads back only
   * its 4 bytes. The promise is not awaited before the next step is submitted: call again with
   * `feed: 'previous'` to run the token this step picks, so the GPU never waits for the CPU.
   * At most two steps are in flight (two readback slots); the caller awaits every promise.
   * @param feed the token to run, or 'previous' for the one the last submitted step picked.
   * @param rand the step's uniform random number (the CPU sampler's seeded generator).
   * @param penaltyIds distinct ids the repetition penalty applies to; with `feed: 'previous'`
   *   the fed token is added on the GPU (deduplicated there), so leave it out.
   * @throws {EngineStateError} with two steps already in flight.
   * @throws {TokenIdError} when a fed or picked id is outside the vocabulary.
   */
  decodeStep(
    feed: number | 'previous',
    pos: number,
    draw: DecodeDraw,
    rand: number,
    penaltyIds: Uint32Array = NO_IDS,
  ): Promise<number> {
    if (this.#inFlight >= this.#readSlots.length)
      throw new EngineStateError(`${this.#inFlight} decode steps are already in flight`);
    const fed = this.#fed.subarray(0, typeof feed === 'number' ? 1 : 0);
    if (typeof feed === 'number') fed[0] = feed;
    this.#checkStep(fed, 1, pos);
    const argmaxOnly = draw.greedy && draw.penalty === 1;
    const appendFed = feed === 'previous' && draw.penalty !== 1;
    const q = this.#device.queue;
    if (!argmaxOnly) {
      const k = Math.min(draw.k, this.cfg.nVocab);
      if (!Number.isInteger(draw.k) || draw.k < 1 || draw.k > MAX_TOP_K)
        throw new EngineRequestError(`top-k ${draw.k} must be an integer in 1..${MAX_TOP_K}`, 'TOP_K');
      const nPenalty = draw.penalty === 1 ? 0 : penaltyIds.length + (appendFed ? 1 : 0);
      if (nPenalty > MAX_PENALTY_IDS)
        throw new EngineRequestError(`${nPenalty} penalty ids (max ${MAX_PENALTY_IDS})`, 'PENALTY_IDS');
      if (draw.penalty !== 1 && penaltyIds.length)
        q.writeBuffer(this.#penaltyIds, 0, penaltyIds.buffer, penaltyIds.byteOffset, penaltyIds.byteLength);
      q.writeBuffer(
        this.#topKParams,
        0,
        encodeTopKParams({ n: this.cfg.nVocab, k, nPenalty, penalty: draw.penalty }, this.#topKData),
      );
      q.writeBuffer(this.#drawParams, 0, encodeDrawParams({ ...draw, rand }, this.#drawData));
    }
    if (fed.length) q.writeBuffer(this.#ids, 0, this.#fed.buffer, 0, 4);
    q.writeBuffer(this.#stepBuffer, 0, encodeStep({ nTokens: 1, pos }, this.#stepData));
    const enc = this.#device.createCommandEncoder({ label: 'decode' });
    // The fed token sits in ids[0] on the GPU; the penalty window's last entry is that token.
    if (appendFed) enc.copyBufferToBuffer(this.#ids, 0, this.#penaltyIds, 4 * penaltyIds.length, 4);
    const pass = enc.beginComputePass();
    recordDispatches(pass, this.#body, 1);
    recordDispatches(pass, this.#head, 1);
    recordDispatches(pass, argmaxOnly ? this.#argmax : this.#drawChain, 1);
    pass.end();
    const slot = this.#readSlots[this.#nextSlot]!;
    this.#nextSlot = (this.#nextSlot + 1) % this.#readSlots.length;
    enc.copyBufferToBuffer(this.#sampled, 0, this.#ids, 0, 4);
    enc.copyBufferToBuffer(this.#sampled, 0, slot, 0, 4);
    q.submit([enc.finish()]);
    this.#inFlight++;
    return slot
      .mapAsync(GPUMapMode.READ, 0, 4)
      .then(() => {
        const id = new Uint32Array(slot.getMappedRange(0, 4))[0]!;
        slot.unmap();
        if (id >= this.cfg.nVocab)
          throw new TokenIdError(
            `the GPU picked token id ${id}, outside the vocabulary of ${this.cfg.nVocab}`,
          );
        return id;
      })
      .finally(() => this.#inFlight--);
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
    if (this.#lora) {
      for (const b of this.#lora.buffers) b.destroy();
      this.#lora.arena.destroy();
      this.#lora = undefined;
    }
    for (const b of this.#buffers) b.destroy();
    this.#buffers.length = 0;
    this.#readLogits.destroy();
    for (const b of this.#readSlots) b.destroy();
    this.#drawParams.destroy();
    this.#topKParams.destroy();
    this.#stepBuffer.destroy();
    this.#arena.destroy();
  }
}
