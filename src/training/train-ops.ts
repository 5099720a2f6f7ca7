/**
 * Dispatch builders for the training kernels (gemm, matmul-backward, norm-backward,
 * activation-backward, rope-backward, attention-backward, loss, optimizer). Like the engine's
 * `Ops`, each builds its pipeline, bind group and uniform once; a step only records them.
 * Uniform encoders mirror the WGSL structs field for field (train-ops.test.ts checks the sizes).
 */
import type { Dispatch } from '../engine/gpu/ops.ts';
import { partBinding, type GpuWeight } from '../engine/gpu/gpu-weight.ts';
import type { Kernel, KernelKey, KernelLibrary } from '../engine/gpu/kernel-library.ts';
import type { UniformArena } from '../engine/gpu/uniform-arena.ts';
import { encode } from '../engine/gpu/params.ts';

/** Which gemm dimension is the step's token count. */
export type TokensDim = 'none' | 'm' | 'n' | 'k';
const TOKENS_DIM: Record<TokensDim, number> = { none: 0, m: 1, n: 2, k: 3 };

export interface GemmParams {
  m: number;
  n: number;
  k: number;
  lda: number;
  ldb: number;
  ldc: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
  tokensDim: TokensDim;
}
export function encodeGemmParams(p: GemmParams): ArrayBuffer {
  return encode([
    p.m,
    p.n,
    p.k,
    p.lda,
    p.ldb,
    p.ldc,
    p.transA ? 1 : 0,
    p.transB ? 1 : 0,
    { f: p.alpha },
    { f: p.beta },
    TOKENS_DIM[p.tokensDim],
    0,
  ]);
}

export function encodeMatmulBackParams(p: {
  k: number;
  rows: number;
  rowOffset: number;
  aux: number;
  dyStride: number;
  dxStride: number;
  accumulate: boolean;
}): ArrayBuffer {
  return encode([p.k, p.rows, p.rowOffset, p.aux, p.dyStride, p.dxStride, p.accumulate ? 1 : 0, 0]);
}

export function encodeNormBackParams(p: { n: number; rowsPerToken: number; eps: number }): ArrayBuffer {
  return encode([p.n, p.rowsPerToken, { f: p.eps }, 0]);
}

export function encodeActBackParams(p: { nFf: number }): ArrayBuffer {
  return encode([p.nFf, 0, 0, 0]);
}

export function encodeRopeBackParams(p: {
  nHead: number;
  nKv: number;
  headDim: number;
  nRot: number;
}): ArrayBuffer {
  return encode([p.nHead, p.nKv, p.headDim, p.nRot]);
}

export function encodeAttnBackParams(p: {
  nHead: number;
  nKv: number;
  headDim: number;
  seq: number;
  scale: number;
  window?: number;
  softcap?: number;
}): ArrayBuffer {
  return encode([p.nHead, p.nKv, p.headDim, p.seq, { f: p.scale }, p.window ?? 0, { f: p.softcap ?? 0 }, 0]);
}

export function encodeLossParams(p: { nVocab: number; softcap?: number }): ArrayBuffer {
  return encode([p.nVocab, { f: p.softcap ?? 0 }, 0, 0]);
}

export interface AdamValues {
  n: number;
  gridX: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  biasCorrection1: number;
  biasCorrection2: number;
  mu: number;
}
export function encodeAdamParams(p: AdamValues): ArrayBuffer {
  return encode([
    p.n,
    p.gridX,
    { f: p.lr },
    { f: p.beta1 },
    { f: p.beta2 },
    { f: p.eps },
    { f: p.weightDecay },
    { f: p.biasCorrection1 },
    { f: p.biasCorrection2 },
    { f: p.mu },
    0,
    0,
  ]);
}

/** A buffer or a range of one (LoRA tensors are ranges of packed buffers). */
export type Binding = GPUBuffer | GPUBufferBinding;

const WG = 64;
/** Tokens per matmul-backward workgroup (each decoded weight unit serves the whole tile). */
export const MATMUL_BACK_TILE = 8;
const MAX_GRID = 65535;

export class TrainOps {
  constructor(
    readonly lib: KernelLibrary,
    readonly arena: UniformArena,
    readonly step: GPUBuffer,
    readonly subgroups: boolean,
  ) {}

  get device(): GPUDevice {
    return this.lib.device;
  }

  #kernel(key: Omit<KernelKey, 'defines'> & { defines?: Record<string, string | number | boolean> }) {
    return this.lib.get({
      ...key,
      defines: { ...key.defines, ...(this.subgroups ? { SUBGROUPS: true } : {}) },
    });
  }

  /** Binds resources at explicit binding numbers (entry points of one file use different subsets). */
  #bind(kernel: Kernel, entries: [number, Binding][]): GPUBindGroup {
    return this.device.createBindGroup({
      label: kernel.label,
      layout: kernel.pipeline.getBindGroupLayout(0),
      entries: entries.map(([binding, r]) => ({ binding, resource: 'buffer' in r ? r : { buffer: r } })),
    });
  }

  #seq(kernel: Kernel, resources: Binding[]): GPUBindGroup {
    return this.#bind(
      kernel,
      resources.map((r, i) => [i, r]),
    );
  }

  /** C = alpha·op(A)·op(B) + beta·C (see wgsl/gemm.wgsl). */
  async gemm(o: { a: Binding; b: Binding; c: Binding } & GemmParams): Promise<Dispatch> {
    const kernel = await this.lib.get({ family: 'gemm', entryPoint: 'main', workgroupSize: WG });
    const params = this.arena.add(encodeGemmParams(o));
    const dim = (fixed: number, which: TokensDim, n: number) => (o.tokensDim === which ? n : fixed);
    return {
      kernel,
      bindGroup: this.#seq(kernel, [o.a, o.b, o.c, params, this.step]),
      grid: (n) => {
        const groups = Math.ceil((dim(o.m, 'm', n) * dim(o.n, 'n', n)) / WG);
        const x = Math.min(groups, MAX_GRID);
        return [x, Math.ceil(groups / x), 1];
      },
    };
  }

  /** dx[t, :] (+)= Σ_o W[o, :] dy[t, o] through a frozen quantized weight, one dispatch per part. */
  async matmulBackward(o: {
    weight: GpuWeight;
    dy: GPUBuffer;
    dx: GPUBuffer;
    accumulate: boolean;
  }): Promise<Dispatch[]> {
    const w = o.weight;
    const kernel = await this.lib.get({
      family: 'matmulBackward',
      entryPoint: 'main',
      workgroupSize: WG,
      quant: w.type,
      defines: { TILE: MATMUL_BACK_TILE },
    });
    return w.parts.map((part, i) => {
      const params = this.arena.add(
        encodeMatmulBackParams({
          k: w.k,
          rows: part.rows,
          rowOffset: part.rowStart,
          aux: part.aux,
          dyStride: w.rows,
          dxStride: w.k,
          accumulate: o.accumulate || i > 0,
        }),
      );
      return {
        kernel,
        bindGroup: this.#seq(kernel, [partBinding(part), o.dy, o.dx, params, this.step]),
        grid: (n: number) => [w.k / 32, Math.ceil(n / MATMUL_BACK_TILE), 1],
      };
    });
  }

  /** dx (+)= RMSNorm'(x)ᵀ dy, rows of n per token. */
  async normBackward(o: {
    x: GPUBuffer;
    weight: GPUBuffer;
    dy: GPUBuffer;
    dx: GPUBuffer;
    n: number;
    eps: number;
    add: boolean;
    rowsPerToken?: number;
  }): Promise<Dispatch> {
    const rpt = o.rowsPerToken ?? 1;
    const kernel = await this.#kernel({
      family: 'normBackward',
      entryPoint: 'main',
      workgroupSize: WG,
      defines: { ADD: o.add },
    });
    const params = this.arena.add(encodeNormBackParams({ n: o.n, rowsPerToken: rpt, eps: o.eps }));
    return {
      kernel,
      bindGroup: this.#seq(kernel, [o.x, o.weight, o.dy, o.dx, params, this.step]),
      grid: (n) => [n * rpt, 1, 1],
    };
  }

  /** SwiGLU (or, with `gelu`, GeGLU) gradient: d_gate and d_up from d_act. */
  async swigluBackward(o: {
    gate: GPUBuffer;
    up: GPUBuffer;
    dAct: GPUBuffer;
    dGate: GPUBuffer;
    dUp: GPUBuffer;
    nFf: number;
    gelu?: boolean;
  }): Promise<Dispatch> {
    const kernel = await this.lib.get({
      family: 'activationBackward',
      entryPoint: 'main',
      workgroupSize: WG,
      ...(o.gelu ? { defines: { GELU: true } } : {}),
    });
    const params = this.arena.add(encodeActBackParams({ nFf: o.nFf }));
    return {
      kernel,
      bindGroup: this.#seq(kernel, [o.gate, o.up, o.dAct, o.dGate, o.dUp, params, this.step]),
      grid: (n) => [Math.ceil(o.nFf / WG), n, 1],
    };
  }

  /** Inverse rotation of dq and dk, in place. */
  async ropeBackward(o: {
    dq: GPUBuffer;
    dk: GPUBuffer;
    cosSin: GPUBuffer;
    neox: boolean;
    nHead: number;
    nKv: number;
    headDim: number;
    nRot: number;
  }): Promise<Dispatch> {
    const kernel = await this.lib.get({
      family: 'ropeBackward',
      entryPoint: 'main',
      workgroupSize: WG,
      defines: { NEOX: o.neox },
    });
    const params = this.arena.add(encodeRopeBackParams(o));
    const perToken = ((o.nHead + o.nKv) * o.nRot) / 2;
    return {
      kernel,
      bindGroup: this.#seq(kernel, [o.dq, o.dk, o.cosSin, params, this.step]),
      grid: (n) => [Math.ceil(perToken / WG), n, 1],
    };
  }

  /** Attention gradient: [scores → dq, P, dS] then [kv → dk, dv]. */
  async attentionBackward(o: {
    q: GPUBuffer;
    kCache: GPUBuffer;
    vCache: GPUBuffer;
    dOut: GPUBuffer;
    dq: GPUBuffer;
    dk: GPUBuffer;
    dv: GPUBuffer;
    p: GPUBuffer;
    ds: GPUBuffer;
    nHead: number;
    nKv: number;
    headDim: number;
    seq: number;
    scale: number;
    /** Sliding window of this layer (0 = full causal). */
    window?: number;
    /** Attention logit soft-cap (0 = none). */
    softcap?: number;
  }): Promise<Dispatch[]> {
    const key = { family: 'attentionBackward' as const, workgroupSize: WG };
    const scores = await this.#kernel({ ...key, entryPoint: 'scores' });
    const kv = await this.lib.get({ ...key, entryPoint: 'kv' });
    const params = this.arena.add(encodeAttnBackParams(o));
    return [
      {
        kernel: scores,
        bindGroup: this.#bind(scores, [
          [0, o.q],
          [1, o.kCache],
          [2, o.vCache],
          [3, o.dOut],
          [4, o.dq],
          [5, o.p],
          [6, o.ds],
          [9, params],
          [10, this.step],
        ]),
        grid: (n) => [o.nHead, n, 1],
      },
      {
        kernel: kv,
        bindGroup: this.#bind(kv, [
          [0, o.q],
          [3, o.dOut],
          [5, o.p],
          [6, o.ds],
          [7, o.dk],
          [8, o.dv],
          [9, params],
          [10, this.step],
        ]),
        grid: (n) => [o.nKv, n, 1],
      },
    ];
  }

  /** Cross-entropy and its gradient in place over [tokens, vocab] logits, then the loss total. */
  async crossEntropy(o: {
    logits: GPUBuffer;
    targets: GPUBuffer;
    weights: GPUBuffer;
    tokenLoss: GPUBuffer;
    total: GPUBuffer;
    nVocab: number;
    /** Final logit soft-cap the logits went through (0 = none). */
    softcap?: number;
  }): Promise<Dispatch[]> {
    const key = { family: 'loss' as const, workgroupSize: WG };
    const ce = await this.#kernel({ ...key, entryPoint: 'cross_entropy' });
    const sum = await this.#kernel({ ...key, entryPoint: 'sum' });
    const params = this.arena.add(encodeLossParams(o));
    return [
      {
        kernel: ce,
        bindGroup: this.#bind(ce, [
          [0, o.logits],
          [1, o.targets],
          [2, o.weights],
          [3, o.tokenLoss],
          [4, params],
          [5, this.step],
        ]),
        grid: (n) => [n, 1, 1],
      },
      {
        kernel: sum,
        bindGroup: this.#bind(sum, [
          [3, o.tokenLoss],
          [5, this.step],
          [6, o.total],
        ]),
        grid: () => [1, 1, 1],
      },
    ];
  }

  /** AdamW over `n` packed parameters; `uniform` is rewritten before every optimizer step. */
  async adamw(o: {
    params: GPUBuffer;
    grads: GPUBuffer;
    m: GPUBuffer;
    v: GPUBuffer;
    anchor: GPUBuffer;
    uniform: GPUBuffer;
    n: number;
  }): Promise<{ dispatch: Dispatch; gridX: number }> {
    const kernel = await this.lib.get({ family: 'optimizer', entryPoint: 'adamw', workgroupSize: WG });
    const groups = Math.ceil(o.n / WG);
    const gridX = Math.min(groups, MAX_GRID);
    const gridY = Math.ceil(groups / gridX);
    return {
      gridX,
      dispatch: {
        kernel,
        bindGroup: this.#seq(kernel, [o.params, o.grads, o.m, o.v, o.anchor, o.uniform]),
        grid: () => [gridX, gridY, 1],
      },
    };
  }
}
