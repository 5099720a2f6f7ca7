/**
 * Ops build dispatch descriptions once, when a model is loaded: pipeline, bind group (buffers and
 * an arena slot for the op's uniform parameters) and the grid as a function of the batch size.
 * A forward step then only records them into one compute pass — no allocation per token.
 */
import { isCpuEmulatedAdapter } from './device.ts';
import { partBinding, sharedBuffer, type GpuWeight, type GpuWeightPart } from './gpu-weight.ts';
import { gpuQuantRow } from './weight-layout.ts';
import type { Kernel, KernelKey, KernelLibrary } from './kernel-library.ts';
import { ATTN_WG, headBlocks, prefillTile, SPLIT_MAX_TOKENS, splitCount } from './attention-plan.ts';
import {
  GEMM_TILE,
  GEMV_WG,
  GEMV_X_CHUNK,
  gemvShape,
  gluRowsPerGroup,
  MATMUL_TILE,
  MATMUL_WG,
  matmulKernelFor,
  subgroupRowsFor,
  UNKNOWN_SUBGROUPS,
  type SubgroupRange,
} from './matmul-shape.ts';
import * as P from './params.ts';
import type { UniformArena } from './uniform-arena.ts';

export interface Dispatch {
  kernel: Kernel;
  bindGroup: GPUBindGroup;
  /** Workgroup counts for a step of `nTokens` tokens. */
  grid(nTokens: number): [number, number, number];
  /**
   * The dispatch a step of `nTokens` tokens actually records, when the kernel depends on the batch
   * size (weight products: GEMV for one token, tiled GEMM for prefill); absent: this one.
   */
  forTokens?(nTokens: number): Dispatch;
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
   * Weight products with the GPU-shaped kernels chosen by batch size (coalesced GEMV for one token,
   * shared-memory tiled GEMM from GEMM_MIN_TOKENS). Default: on, except on CPU-emulated adapters
   * (isCpuEmulatedAdapter), which run the register-tile kernel for every batch: there workgroup
   * memory is ordinary memory, and SwiftShader's compile time grows with a kernel's workgroup
   * memory (measured: ~13 s for the GEMV's 8 KiB, ~25 s for the GEMM's 16 KiB, vs ~1.5 s).
   */
  gpuMatmul?: boolean;
  /** Tiled-GEMM output tile, rows × tokens (multiples of 4); default GEMM_TILE. Tests use small ones. */
  gemmTile?: { rows: number; tokens: number };
  /** Largest run of x (vec4s) the GEMV stages at once; default GEMV_X_CHUNK. Tests use small ones. */
  gemvXChunk?: number;
  /**
   * Invocations per workgroup of the matrix kernels (matmul, qkv, glu); default 64. Tests set it
   * below the software adapter's subgroup size to run the path a GPU with subgroups wider than
   * 64 lanes takes.
   */
  matrixWorkgroupSize?: number;
}

/** The subgroup sizes the device reports (adapter info), or a safe guess when it does not. */
function subgroupRange(device: GPUDevice): SubgroupRange {
  const { adapterInfo } = device as GPUDevice & {
    adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number };
  };
  const min = adapterInfo?.subgroupMinSize;
  const max = adapterInfo?.subgroupMaxSize;
  return min && max ? { min, max } : UNKNOWN_SUBGROUPS;
}

/** subgroupRowsFor on this device's widest subgroup. */
function subgroupRows(device: GPUDevice, wg: number): number {
  return subgroupRowsFor(wg, subgroupRange(device).max);
}

/** Group 0 of the weight-product kernels, in binding order (wgsl/matmul-io.wgsl). */
function matmulBindings(bias: boolean, vec16: boolean): GPUBufferBindingType[] {
  const b: GPUBufferBindingType[] = [
    'read-only-storage',
    'read-only-storage',
    'storage',
    'uniform',
    'uniform',
  ];
  if (vec16) b.push('read-only-storage');
  if (bias) b.push('read-only-storage');
  return b;
}

export { MATMUL_TILE };
const WG = MATMUL_WG;
/** Largest grid dimension WebGPU guarantees. */
const MAX_GRID = 65535;

/** A weight product: out[t, r] (+)= W[r, :] · x[t, :] (+ bias[r]). */
export interface MatmulOp {
  weight: GpuWeight;
  x: GPUBuffer;
  out: GPUBuffer;
  bias?: GPUBuffer;
  accumulate?: boolean;
  /** Only the batch's last token (for logits); out then holds one row. */
  lastToken?: boolean;
  softcap?: number;
  /**
   * false: this product stays f32 in an f16 build — for an input that is the un-normalised
   * residual stream (layers without a pre-norm), whose values can pass f16's range.
   */
  f16?: boolean;
}

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
   * out[t, r] (+)= W[r, :] · x[t, :] (+ bias[r]) for every part of W. One dispatch per part whose
   * kernel follows the batch size (matmulKernelFor): the coalesced GEMV for one token
   * (wgsl/gemv.wgsl), the register-tile kernel for 2–7 (wgsl/matmul.wgsl), the shared-memory tiled
   * GEMM from GEMM_MIN_TOKENS on (wgsl/matmul-tiled.wgsl, f16 arithmetic when opts.f16).
   */
  async matmul(o: MatmulOp): Promise<Dispatch[]> {
    const w = o.weight;
    const tileKernel = o.lastToken && this.gpuMatmul ? undefined : await this.#registerTileKernel(o);
    const tileRows = this.opts.subgroups ? subgroupRows(this.device, this.#matrixWg) : 1;
    const tile = (part: GpuWeightPart) =>
      this.#matmulPart(o, part, tileKernel!, tileRows, (g, n) => [
        g.x,
        g.y,
        o.lastToken ? 1 : Math.ceil(n / MATMUL_TILE),
      ]);
    if (!this.gpuMatmul) return w.parts.map(tile);

    const epilogue = { BIAS: !!o.bias, ACCUMULATE: !!o.accumulate, SOFTCAP: !!o.softcap };
    const shape = gemvShape(this.opts.subgroups ? subgroupRange(this.device) : undefined);
    const vec16 = !!gpuQuantRow(w.type).gpu.vec16;
    const gemv = await this.#kernel({
      family: 'gemv',
      entryPoint: 'main',
      workgroupSize: GEMV_WG,
      quant: w.type,
      defines: {
        ...epilogue,
        ROWS: shape.rows,
        SLOTS: shape.slots,
        TEAM: shape.team ?? 0,
        XC: Math.min(this.opts.gemvXChunk ?? GEMV_X_CHUNK, w.k / 4),
        VEC16: vec16,
      },
      bindings: vec16 ? matmulBindings(!!o.bias, true) : undefined,
    });
    const decode = (part: GpuWeightPart) =>
      this.#matmulPart(o, part, gemv, shape.rows, (g) => [g.x, g.y, 1], vec16);
    // A logits product never sees more than one token: no batch kernels to compile.
    if (o.lastToken) return w.parts.map(decode);

    const gemmTile = this.opts.gemmTile ?? GEMM_TILE;
    // No subgroup operations: one pipeline serves devices with and without them.
    const gemmKernel = await this.lib.get({
      family: 'matmulTiled',
      entryPoint: 'main',
      workgroupSize: (gemmTile.rows / 4) * (gemmTile.tokens / 4),
      quant: w.type,
      defines: {
        ...epilogue,
        F16: !!this.opts.f16 && o.f16 !== false,
        BM: gemmTile.rows,
        BN: gemmTile.tokens,
      },
    });
    return w.parts.map((part) => {
      // Row tiles stay on x (≤ 65535 tiles of 64 rows covers any tensor), token tiles on y.
      const gemm = this.#matmulPart(o, part, gemmKernel, gemmTile.rows, (g, n) => [
        g.x,
        Math.ceil(n / gemmTile.tokens),
        1,
      ]);
      const byKernel = { gemv: decode(part), 'register-tile': tile(part), 'tiled-gemm': gemm };
      return { ...byKernel.gemv, forTokens: (n: number) => byKernel[matmulKernelFor(n)] };
    });
  }

  /** Whether weight products use the GPU-shaped kernels (OpsOptions.gpuMatmul). */
  get gpuMatmul(): boolean {
    return this.opts.gpuMatmul ?? !isCpuEmulatedAdapter(this.device);
  }

  #registerTileKernel(o: MatmulOp): Promise<Kernel> {
    return this.#kernel({
      family: 'matmul',
      entryPoint: 'main',
      workgroupSize: this.#matrixWg,
      quant: o.weight.type,
      defines: {
        TILE: MATMUL_TILE,
        SG_ROWS: this.opts.subgroups ? subgroupRows(this.device, this.#matrixWg) : 1,
        F16: !!this.opts.f16 && o.f16 !== false,
        BIAS: !!o.bias,
        ACCUMULATE: !!o.accumulate,
        SOFTCAP: !!o.softcap,
      },
    });
  }

  /**
   * One weight part's dispatch of `kernel` (bindings of MatmulParams kernels), its row groups of
   * `rowsPerGroup` rows spread over x and y (x ≤ MAX_GRID); `grid` maps them and the batch size
   * to the workgroup counts. `vec16`: the kernel also reads the weight as 16-byte words (binding
   * W4 of wgsl/matmul-io.wgsl).
   */
  #matmulPart(
    o: MatmulOp,
    part: GpuWeightPart,
    kernel: Kernel,
    rowsPerGroup: number,
    grid: (groups: { x: number; y: number }, nTokens: number) => [number, number, number],
    vec16 = false,
  ): Dispatch {
    const groups = Math.ceil(part.rows / rowsPerGroup);
    const g = { x: Math.min(groups, MAX_GRID), y: 0 };
    g.y = Math.ceil(groups / g.x);
    const params = this.arena.add(
      P.encodeMatmulParams({
        k: o.weight.k,
        rows: part.rows,
        rowOffset: part.rowStart,
        aux: part.aux,
        outStride: o.weight.rows,
        gridX: g.x,
        lastToken: !!o.lastToken,
        softcap: o.softcap ?? 0,
      }),
    );
    const res: (GPUBuffer | GPUBufferBinding)[] = [partBinding(part), o.x, o.out, params, this.step];
    if (vec16) res.push(partBinding(part));
    if (o.bias) res.push(o.bias);
    return { kernel, bindGroup: this.#bind(kernel, res), grid: (n) => grid(g, n) };
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
    const rowsPerGroup = gluRowsPerGroup(this.opts.subgroups ? subgroupRows(this.device, this.#matrixWg) : 1);
    // Decode reads gate and up 16 bytes at a time where the type allows (wgsl/matvec.wgsl).
    const vec16 = !!gpuQuantRow(o.wGate.type).gpu.vec16;
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
        VEC16: vec16,
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
      bindGroup: this.#bind(kernel, [
        buffer,
        o.x,
        o.normWeight,
        o.out,
        params,
        this.step,
        ...(vec16 ? [buffer] : []),
      ]),
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

  /**
   * Attention over the KV cache (wgsl/attention.wgsl). Steps of at most `splitMaxTokens` tokens run
   * split-KV decode (partials, then a combine dispatch) when `partials` is given (sized by
   * partialsBytes()); longer steps, or all without `partials`, run the tiled prefill kernel. The
   * grid of the path not taken is empty, so recordDispatches skips it.
   */
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
    /** Scratch of partialsBytes() bytes for split-KV decode; one buffer may serve every layer. */
    partials?: GPUBuffer;
    /** Most tokens a step may have to take the split path (default SPLIT_MAX_TOKENS). */
    splitMaxTokens?: number;
  }): Promise<Dispatch[]> {
    const kvF16 = !!o.kvF16;
    const contextLength = Math.floor(o.kCache.size / (o.nKv * o.headDim * (kvF16 ? 2 : 4)));
    const shape = { nHead: o.nHead, nKv: o.nKv, headDim: o.headDim, contextLength };
    const nSplit = splitCount(shape);
    const params = this.arena.add(
      P.encodeAttnParams({
        nHead: o.nHead,
        nKv: o.nKv,
        headDim: o.headDim,
        window: o.window ?? 0,
        scale: o.scale,
        softcap: o.softcap ?? 0,
        nSplit,
      }),
    );
    const kernel = (defines: Record<string, string | number | boolean>) =>
      this.#kernel({ family: 'attention', entryPoint: 'main', workgroupSize: ATTN_WG, defines });
    const splitMax = o.partials ? Math.min(o.splitMaxTokens ?? SPLIT_MAX_TOKENS, SPLIT_MAX_TOKENS) : 0;
    const tile = prefillTile(o.headDim);
    const tiled = await kernel({ TILED: true, KV_F16: kvF16, HEAD_DIM: o.headDim, T: tile });
    const dispatches: Dispatch[] = [];
    if (o.partials && splitMax > 0) {
      const { group, blocks } = headBlocks(o);
      const split = await kernel({ SPLIT: true, KV_F16: kvF16, HEAD_DIM: o.headDim, GROUP: group });
      const combine = await kernel({ COMBINE: true });
      const on = (n: number) => (n <= splitMax ? n : 0);
      dispatches.push(
        {
          kernel: split,
          bindGroup: this.#bind(split, [o.q, o.kCache, o.vCache, o.partials, params, this.step]),
          grid: (n) => [nSplit, o.nKv * blocks, on(n)],
        },
        {
          kernel: combine,
          bindGroup: this.#bindAt(combine, [
            [0, o.partials],
            [3, o.out],
            [4, params],
            [5, this.step],
          ]),
          grid: (n) => [o.nHead, on(n), 1],
        },
      );
    }
    dispatches.push({
      kernel: tiled,
      bindGroup: this.#bind(tiled, [o.q, o.kCache, o.vCache, o.out, params, this.step]),
      grid: (n) => [o.nHead, n <= splitMax ? 0 : Math.ceil(n / tile), 1],
    });
    return dispatches;
  }

  /** A bind group for a kernel that uses only some binding numbers. */
  #bindAt(kernel: Kernel, entries: [number, GPUBuffer | GPUBufferBinding][]): GPUBindGroup {
    return this.device.createBindGroup({
      label: kernel.label,
      layout: kernel.pipeline.getBindGroupLayout(0),
      entries: entries.map(([binding, r]) => ({ binding, resource: 'buffer' in r ? r : { buffer: r } })),
    });
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

  /**
   * The token loop's draw: sorts the top-k candidates and picks one with the step's random number
   * (temperature → top-p → min-p, as the CPU sampler), writing the id to `result` where the next
   * step's embedding and the readback find it. `params` is a `DrawParams` uniform rewritten per step.
   */
  async draw(o: { candidates: GPUBuffer; result: GPUBuffer; params: GPUBuffer }): Promise<Dispatch> {
    const kernel = await this.lib.get({ family: 'sampling', entryPoint: 'draw', workgroupSize: 256 });
    return {
      kernel,
      bindGroup: this.device.createBindGroup({
        label: kernel.label,
        layout: kernel.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 1, resource: { buffer: o.result } },
          { binding: 5, resource: { buffer: o.candidates } },
          { binding: 7, resource: { buffer: o.params } },
        ],
      }),
      grid: () => [1, 1, 1],
    };
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
  for (const each of dispatches) {
    const d = each.forTokens?.(nTokens) ?? each;
    const [x, y, z] = d.grid(nTokens);
    if (x === 0 || y === 0 || z === 0) continue;
    pass.setPipeline(d.kernel.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(x, y, z);
  }
}
