/**
 * Ops build dispatch descriptions once, when a model is loaded: pipeline, bind group (buffers and
 * an arena slot for the op's uniform parameters) and the grid as a function of the batch size.
 * A forward step then only records them into one compute pass — no allocation per token.
 */
import { partBinding, sharedBuffer, type GpuWeight } from './gpu-weight.ts';
import type { Kernel, KernelKey, KernelLibrary } from './kernel-library.ts';
import * as P from './params.ts';
import type { UniformArena } from './uniform-arena.ts';

export interface Dispatch {
  kernel: Kernel;
  bindGroup: GPUBindGroup;
  /** Workgroup counts for a step of `nTokens` tokens. */
  grid(nTokens: number): [number, number, number];
}

export interface OpsOptions {
  /** Use subgroup reductions (the adapter must have the `subgroups` feature). */
  subgroups: boolean;
  /**
   * f16 arithmetic in the prefill products of matmul/qkv/glu (the device must have
   * `shader-f16`; see wgsl/matvec.wgsl dot4). Default false.
   */
  f16?: boolean;
  /**
   * Invocations per workgroup of the matrix kernels (matmul, qkv, glu); default 64. Tests set it
   * below the software adapter's subgroup size to run the path a GPU with subgroups wider than
   * 64 lanes takes.
   */
  matrixWorkgroupSize?: number;
}

/** Rows per matmul workgroup on the subgroup path: one subgroup per row, sized for the widest subgroup. */
function subgroupRows(device: GPUDevice, wg: number): number {
  const { adapterInfo } = device as GPUDevice & { adapterInfo?: { subgroupMaxSize?: number } };
  const max = adapterInfo?.subgroupMaxSize ?? 32;
  return Math.max(1, Math.floor(wg / Math.max(1, max)));
}

/** Matmul: token tile per workgroup (weights decoded once per tile); 4, the width of dot_unit4. */
export const MATMUL_TILE = 4;
const WG = 64;
/** Largest grid dimension WebGPU guarantees. */
const MAX_GRID = 65535;

/** Where RoPE'd keys and values go and how heads are rotated (ropeStore and the fused qkv). */
export interface RopeStoreShape {
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** [position][pair] cos/sin from ropeTable(). */
  cosSin: GPUBuffer;
  neox: boolean;
  nHead: number;
  nKv: number;
  headDim: number;
  nRot: number;
  /** The cache holds packed f16 pairs (see wgsl/rope.wgsl). */
  kvF16?: boolean;
}

export class Ops {
  constructor(
    readonly lib: KernelLibrary,
    readonly arena: UniformArena,
    /** The per-step uniform (`struct Step`), rewritten before each forward step. */
    readonly step: GPUBuffer,
    readonly opts: OpsOptions,
  ) {}

  get device(): GPUDevice {
    return this.lib.device;
  }

  get #matrixWg(): number {
    return this.opts.matrixWorkgroupSize ?? WG;
  }

  async #kernel(key: Omit<KernelKey, 'defines'> & { defines?: Record<string, string | number | boolean> }) {
    return this.lib.get({
      ...key,
      defines: { ...key.defines, ...(this.opts.subgroups ? { SUBGROUPS: true } : {}) },
    });
  }

  #bind(kernel: Kernel, resources: (GPUBuffer | GPUBufferBinding)[]): GPUBindGroup {
    return this.device.createBindGroup({
      label: kernel.label,
      layout: kernel.pipeline.getBindGroupLayout(0),
      entries: resources.map((r, binding) => ({
        binding,
        resource: 'buffer' in r ? r : { buffer: r },
      })),
    });
  }

  /**
   * out[t, r] (+)= W[r, :] · x[t, :] (+ bias[r]) for every part of W.
   * @param lastToken only the batch's last token (for logits); out then holds one row.
   */
  async matmul(o: {
    weight: GpuWeight;
    x: GPUBuffer;
    out: GPUBuffer;
    bias?: GPUBuffer;
    accumulate?: boolean;
    lastToken?: boolean;
    softcap?: number;
    /**
     * false: this product stays f32 in an f16 build — for an input that is the un-normalised
     * residual stream (layers without a pre-norm), whose values can pass f16's range.
     */
    f16?: boolean;
  }): Promise<Dispatch[]> {
    const w = o.weight;
    const rowsPerGroup = this.opts.subgroups ? subgroupRows(this.device, this.#matrixWg) : 1;
    const kernel = await this.#kernel({
      family: 'matmul',
      entryPoint: 'main',
      workgroupSize: this.#matrixWg,
      quant: w.type,
      defines: {
        TILE: MATMUL_TILE,
        SG_ROWS: rowsPerGroup,
        F16: !!this.opts.f16 && o.f16 !== false,
        BIAS: !!o.bias,
        ACCUMULATE: !!o.accumulate,
        SOFTCAP: !!o.softcap,
      },
    });
    return w.parts.map((part) => {
      const groups = Math.ceil(part.rows / rowsPerGroup);
      const gridX = Math.min(groups, MAX_GRID);
      const gridY = Math.ceil(groups / gridX);
      const params = this.arena.add(
        P.encodeMatmulParams({
          k: w.k,
          rows: part.rows,
          rowOffset: part.rowStart,
          aux: part.aux,
          outStride: w.rows,
          gridX,
          lastToken: !!o.lastToken,
          softcap: o.softcap ?? 0,
        }),
      );
      const res: (GPUBuffer | GPUBufferBinding)[] = [partBinding(part), o.x, o.out, params, this.step];
      if (o.bias) res.push(o.bias);
      return {
        kernel,
        bindGroup: this.#bind(kernel, res),
        grid: (n: number) => [gridX, gridY, o.lastToken ? 1 : Math.ceil(n / MATMUL_TILE)],
      };
    });
  }

  /**
   * Attention input in one dispatch (wgsl/qkv.wgsl): RMSNorm of `x` folded into the q/k/v
   * projections, bias, Qwen3's per-head q/k norms, RoPE, q into `q`, k and v into the caches.
   * Undefined when the weights do not share one buffer (uploadWeightGroup) or the input row and a
   * tile of heads exceed the device's workgroup memory: the caller then runs the separate ops.
   * @param vecs bq|bk|bv and q/k head-norm weights in one buffer, at the given float offsets.
   */
  async qkv(
    o: RopeStoreShape & {
      wq: GpuWeight;
      wk: GpuWeight;
      wv: GpuWeight;
      x: GPUBuffer;
      normWeight: GPUBuffer;
      eps: number;
      q: GPUBuffer;
      vecs?: { buffer: GPUBuffer; biasOff?: number; qNormOff?: number; kNormOff?: number };
    },
  ): Promise<Dispatch | undefined> {
    const ws = [o.wq, o.wk, o.wv];
    const buffer = sharedBuffer(ws);
    // Workgroup memory: the staged input row, the head's rows for a token tile, the reduction scratch.
    const shared = 4 * (o.wq.k + MATMUL_TILE * o.headDim + this.#matrixWg);
    if (!buffer || shared > this.device.limits.maxComputeWorkgroupStorageSize || o.headDim % 2 || o.nRot % 2)
      return undefined;
    const bias = o.vecs?.biasOff !== undefined;
    const qkNorm = o.vecs?.qNormOff !== undefined && o.vecs.kNormOff !== undefined;
    const kernel = await this.#kernel({
      family: 'qkv',
      entryPoint: 'main',
      workgroupSize: this.#matrixWg,
      quant: o.wq.type,
      defines: {
        TILE: MATMUL_TILE,
        K4: o.wq.k / 4,
        HEAD_DIM: o.headDim,
        F16: !!this.opts.f16,
        NEOX: o.neox,
        KV_F16: !!o.kvF16,
        BIAS: bias,
        QK_NORM: qkNorm,
        VECS: bias || qkNorm,
      },
    });
    const part = (w: GpuWeight) => w.parts[0]!;
    const params = this.arena.add(
      P.encodeQkvParams({
        k: o.wq.k,
        nHead: o.nHead,
        nKv: o.nKv,
        headDim: o.headDim,
        nRot: o.nRot,
        bases: [part(o.wq).offset / 4, part(o.wk).offset / 4, part(o.wv).offset / 4],
        auxes: [part(o.wq).aux, part(o.wk).aux, part(o.wv).aux],
        biasOff: o.vecs?.biasOff ?? 0,
        qNormOff: o.vecs?.qNormOff ?? 0,
        kNormOff: o.vecs?.kNormOff ?? 0,
        eps: o.eps,
      }),
    );
    const res: (GPUBuffer | GPUBufferBinding)[] = [
      buffer,
      o.x,
      o.normWeight,
      o.q,
      o.kCache,
      o.vCache,
      o.cosSin,
      params,
      this.step,
    ];
    if (bias || qkNorm) res.push(o.vecs!.buffer);
    const heads = o.nHead + 2 * o.nKv;
    return {
      kernel,
      bindGroup: this.#bind(kernel, res),
      grid: (n: number) => [heads, 1, Math.ceil(n / MATMUL_TILE)],
    };
  }

  /**
   * FFN input in one dispatch (wgsl/glu.wgsl): RMSNorm of `x` folded into the gate and up
   * projections, then act(gate)·up into `out`. Undefined when gate and up do not share one buffer
   * or the input row exceeds the device's workgroup memory.
   */
  async glu(o: {
    wGate: GpuWeight;
    wUp: GpuWeight;
    x: GPUBuffer;
    normWeight: GPUBuffer;
    eps: number;
    out: GPUBuffer;
    gelu: boolean;
  }): Promise<Dispatch | undefined> {
    const buffer = sharedBuffer([o.wGate, o.wUp]);
    const shared = 4 * (o.wGate.k + this.#matrixWg); // staged input row + reduction scratch
    if (!buffer || o.wGate.rows !== o.wUp.rows || shared > this.device.limits.maxComputeWorkgroupStorageSize)
      return undefined;
    const rowsPerGroup = this.opts.subgroups ? subgroupRows(this.device, this.#matrixWg) : 1;
    const kernel = await this.#kernel({
      family: 'glu',
      entryPoint: 'main',
      workgroupSize: this.#matrixWg,
      quant: o.wGate.type,
      defines: {
        TILE: MATMUL_TILE,
        K4: o.wGate.k / 4,
        SG_ROWS: rowsPerGroup,
        F16: !!this.opts.f16,
        GELU: o.gelu,
      },
    });
    const g = o.wGate.parts[0]!;
    const u = o.wUp.parts[0]!;
    const groups = Math.ceil(o.wGate.rows / rowsPerGroup);
    const gridX = Math.min(groups, MAX_GRID);
    const gridY = Math.ceil(groups / gridX);
    const params = this.arena.add(
      P.encodeGluParams({
        k: o.wGate.k,
        rows: o.wGate.rows,
        gateBase: g.offset / 4,
        upBase: u.offset / 4,
        gateAux: g.aux,
        upAux: u.aux,
        gridX,
        eps: o.eps,
      }),
    );
    return {
      kernel,
      bindGroup: this.#bind(kernel, [buffer, o.x, o.normWeight, o.out, params, this.step]),
      grid: (n: number) => [gridX, gridY, Math.ceil(n / MATMUL_TILE)],
    };
  }

  /** out[t, :] = scale · table[ids[t], :]. */
  async embedding(o: {
    table: GpuWeight;
    ids: GPUBuffer;
    out: GPUBuffer;
    scale: number;
  }): Promise<Dispatch[]> {
    const w = o.table;
    const kernel = await this.#kernel({
      family: 'embedding',
      entryPoint: 'main',
      workgroupSize: WG,
      quant: w.type,
    });
    const units = Math.ceil(w.k / 32 / WG);
    return w.parts.map((part) => {
      const params = this.arena.add(
        P.encodeEmbedParams({
          k: w.k,
          rows: part.rows,
          aux: part.aux,
          scale: o.scale,
          rowOffset: part.rowStart,
        }),
      );
      return {
        kernel,
        bindGroup: this.#bind(kernel, [partBinding(part), o.ids, o.out, params, this.step]),
        grid: (n: number) => [units, n, 1],
      };
    });
  }

  /** RMSNorm of `rowsPerToken` rows of `n` per token; `add` accumulates into out; `lastToken` for logits. */
  async rmsnorm(o: {
    x: GPUBuffer;
    weight: GPUBuffer;
    out: GPUBuffer;
    n: number;
    eps: number;
    rowsPerToken?: number;
    add?: boolean;
    lastToken?: boolean;
  }): Promise<Dispatch> {
    const rpt = o.rowsPerToken ?? 1;
    const kernel = await this.#kernel({
      family: 'norm',
      entryPoint: 'main',
      workgroupSize: WG,
      defines: { ADD: !!o.add, LAST_TOKEN: !!o.lastToken },
    });
    const params = this.arena.add(P.encodeNormParams({ n: o.n, rowsPerToken: rpt, eps: o.eps }));
    return {
      kernel,
      bindGroup: this.#bind(kernel, [o.x, o.weight, o.out, params, this.step]),
      grid: (n: number) => [o.lastToken ? rpt : n * rpt, 1, 1],
    };
  }

  /** RoPE on q (in place) and k, and k, v appended to the layer's cache; `cosSin` from ropeTable(). */
  async ropeStore(
    o: RopeStoreShape & {
      q: GPUBuffer;
      k: GPUBuffer;
      v: GPUBuffer;
    },
  ): Promise<Dispatch> {
    const kernel = await this.#kernel({
      family: 'rope',
      entryPoint: 'main',
      workgroupSize: WG,
      defines: { NEOX: o.neox, KV_F16: !!o.kvF16 },
    });
    const params = this.arena.add(
      P.encodeRopeParams({ nHead: o.nHead, nKv: o.nKv, headDim: o.headDim, nRot: o.nRot }),
    );
    const perToken = (o.nHead + o.nKv) * (o.nRot / 2) + o.nKv * o.headDim;
    return {
      kernel,
      bindGroup: this.#bind(kernel, [o.q, o.k, o.v, o.kCache, o.vCache, o.cosSin, params, this.step]),
      grid: (n: number) => [Math.ceil(perToken / WG), n, 1],
    };
  }

  async attention(o: {
    q: GPUBuffer;
    kCache: GPUBuffer;
    vCache: GPUBuffer;
    out: GPUBuffer;
    nHead: number;
    nKv: number;
    headDim: number;
    scale: number;
    softcap?: number;
    window?: number;
    kvF16?: boolean;
  }): Promise<Dispatch> {
    const kernel = await this.#kernel({
      family: 'attention',
      entryPoint: 'main',
      workgroupSize: WG,
      defines: { KV_F16: !!o.kvF16 },
    });
    const params = this.arena.add(
      P.encodeAttnParams({
        nHead: o.nHead,
        nKv: o.nKv,
        headDim: o.headDim,
        window: o.window ?? 0,
        scale: o.scale,
        softcap: o.softcap ?? 0,
      }),
    );
    return {
      kernel,
      bindGroup: this.#bind(kernel, [o.q, o.kCache, o.vCache, o.out, params, this.step]),
      grid: (n: number) => [o.nHead, n, 1],
    };
  }

  async gatedActivation(o: {
    gate: GPUBuffer;
    up: GPUBuffer;
    out: GPUBuffer;
    nFf: number;
    gelu: boolean;
  }): Promise<Dispatch> {
    const kernel = await this.#kernel({
      family: 'activation',
      entryPoint: 'main',
      workgroupSize: WG,
      defines: { GELU: o.gelu },
    });
    const params = this.arena.add(P.encodeActParams({ nFf: o.nFf }));
    return {
      kernel,
      bindGroup: this.#bind(kernel, [o.gate, o.up, o.out, params, this.step]),
      grid: (n: number) => [Math.ceil(o.nFf / WG), n, 1],
    };
  }

  /**
   * LoRA term after a base matmul: out[t, :] += B · (A · x[t, :]) with A [rank, in] and B [out, rank]
   * (f32, row-major; scales already folded into B). `tmp` holds rank floats per token.
   * @param arena where the two uniforms go; adapters are swapped at run time, so the caller may pass
   *   an arena it frees on the next swap instead of the model's.
   */
  async lora(o: {
    a: GPUBuffer;
    b: GPUBuffer;
    x: GPUBuffer;
    tmp: GPUBuffer;
    out: GPUBuffer;
    inFeatures: number;
    outFeatures: number;
    rank: number;
    arena?: UniformArena;
  }): Promise<Dispatch[]> {
    const arena = o.arena ?? this.arena;
    const shrink = await this.#kernel({
      family: 'lora',
      entryPoint: 'shrink',
      workgroupSize: WG,
      defines: { SHRINK: true },
    });
    const expand = await this.#kernel({ family: 'lora', entryPoint: 'expand', workgroupSize: WG });
    const params = arena.add(
      P.encodeLoraParams({ inFeatures: o.inFeatures, rank: o.rank, outFeatures: o.outFeatures }),
    );
    return [
      {
        kernel: shrink,
        bindGroup: this.#bind(shrink, [o.a, o.x, o.tmp, params, this.step]),
        grid: (n: number) => [o.rank, n, 1],
      },
      {
        kernel: expand,
        bindGroup: this.#bind(expand, [o.b, o.tmp, o.out, params, this.step]),
        grid: (n: number) => [Math.ceil(o.outFeatures / WG), n, 1],
      },
    ];
  }

  /**
   * Repetition penalty (in place on the logits) then the exact top-k (id, logit) pairs, so a
   * non-greedy step reads back 8·k bytes instead of the vocabulary. `params` is a `TopKParams`
   * uniform the caller rewrites per step (k, penalty and the id count change between requests).
   */
  async penaltyTopK(o: {
    logits: GPUBuffer;
    penaltyIds: GPUBuffer;
    candidates: GPUBuffer;
    params: GPUBuffer;
    maxPenaltyIds: number;
  }): Promise<Dispatch[]> {
    const key = { family: 'sampling' as const, workgroupSize: 256 };
    const penalize = await this.lib.get({ ...key, entryPoint: 'penalize' });
    const topk = await this.lib.get({ ...key, entryPoint: 'topk' });
    const bind = (kernel: Kernel, entries: [number, GPUBuffer][]) =>
      this.device.createBindGroup({
        label: kernel.label,
        layout: kernel.pipeline.getBindGroupLayout(0),
        entries: entries.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
      });
    return [
      {
        kernel: penalize,
        bindGroup: bind(penalize, [
          [3, o.logits],
          [4, o.penaltyIds],
          [6, o.params],
        ]),
        grid: () => [Math.ceil(o.maxPenaltyIds / 256), 1, 1],
      },
      {
        kernel: topk,
        bindGroup: bind(topk, [
          [3, o.logits],
          [5, o.candidates],
          [6, o.params],
        ]),
        grid: () => [1, 1, 1],
      },
    ];
  }

  async argmax(o: { logits: GPUBuffer; result: GPUBuffer; n: number }): Promise<Dispatch> {
    const kernel = await this.lib.get({ family: 'sampling', entryPoint: 'argmax', workgroupSize: 256 });
    const params = this.arena.add(P.encodeArgmaxParams({ n: o.n }));
    return {
      kernel,
      bindGroup: this.#bind(kernel, [o.logits, o.result, params]),
      grid: () => [1, 1, 1],
    };
  }
}

/** Records dispatches into one compute pass. */
export function recordDispatches(
  pass: GPUComputePassEncoder,
  dispatches: readonly Dispatch[],
  nTokens: number,
): void {
  for (const d of dispatches) {
    const [x, y, z] = d.grid(nTokens);
    if (x === 0 || y === 0 || z === 0) continue;
    pass.setPipeline(d.kernel.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(x, y, z);
  }
}
