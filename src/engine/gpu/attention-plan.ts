/**
 * How attention is laid out on the GPU (wgsl/attention.wgsl), as numbers: the split count and head
 * blocking of split-KV decode, the tile of prefill, and the structural figures bench/README.md
 * quotes (bytes read per token against the minimum, workgroups per step, workgroup memory). Ops
 * reads the same functions to build its dispatches, so the figures describe what really runs.
 */

/** Threads per attention workgroup; the kernels assume 64 (8 heads × 8 lanes in the max step). */
export const ATTN_WG = 64;
/** Keys one split-KV workgroup scores per chunk (one per thread). */
export const SPLIT_CHUNK = ATTN_WG;
/** Query heads of one KV group handled by one split workgroup (they share each K/V read). */
export const MAX_GROUP = 8;
/**
 * Workgroups split-KV decode aims to launch per layer: enough to fill a large discrete GPU
 * (an H100/H200 has 132 SMs, a laptop GPU 16–40 compute units) without splitting short contexts
 * into slivers whose partials cost more than their keys.
 */
export const TARGET_WORKGROUPS = 128;
/** Steps of at most this many tokens take the split-KV path; longer ones the tiled kernel. */
export const SPLIT_MAX_TOKENS = 4;
/** Workgroup memory every WebGPU device guarantees (tiles are sized to fit it). */
const MIN_WORKGROUP_STORAGE = 16384;

export interface AttentionShape {
  nHead: number;
  nKv: number;
  headDim: number;
  /** KV cache length in positions (the most any step attends to). */
  contextLength: number;
  /** Bytes per cached K or V element: 2 for the f16 cache, 4 for f32. */
  kvElem: number;
}

/** Query heads of a KV group per split workgroup, and how many such blocks a group needs. */
export function headBlocks(s: Pick<AttentionShape, 'nHead' | 'nKv'>): { group: number; blocks: number } {
  const ratio = s.nHead / s.nKv;
  const blocks = Math.ceil(ratio / MAX_GROUP);
  return { group: Math.ceil(ratio / blocks), blocks };
}

/**
 * Split-KV workgroups per (KV group, head block): the target workgroup count shared out, never more
 * than the context has chunks. At run time the kernel uses min(this, chunks of the current context)
 * of them, so a short context does not pay for a long one's splits.
 */
export function splitCount(s: Omit<AttentionShape, 'kvElem'>): number {
  const { blocks } = headBlocks(s);
  const want = Math.ceil(TARGET_WORKGROUPS / (s.nKv * blocks));
  return Math.max(1, Math.min(want, Math.ceil(s.contextLength / SPLIT_CHUNK)));
}

/** Splits that hold keys for a context of `len` positions (mirrors the kernel's arithmetic). */
export function activeSplits(nSplit: number, len: number): number {
  const chunks = Math.ceil(len / SPLIT_CHUNK);
  const active = Math.min(nSplit, chunks);
  const perSplit = Math.ceil(chunks / active);
  return Math.ceil(chunks / perSplit);
}

/** Floats per partial result: running max, sum, then head_dim accumulators. */
export const partialStride = (headDim: number): number => headDim + 2;

/** Bytes of the split-KV partials buffer (f32). */
export function partialsBytes(s: Omit<AttentionShape, 'kvElem'>): number {
  return SPLIT_MAX_TOKENS * s.nHead * splitCount(s) * partialStride(s.headDim) * 4;
}

/**
 * Tokens (= keys) per tile of the tiled prefill kernel: the largest power of two ≤ 16 whose Q, K and
 * V tiles and score block fit the guaranteed 16 KiB of workgroup memory.
 */
export function prefillTile(headDim: number): number {
  for (let t = 16; t > 1; t /= 2) if (tiledSharedBytes(headDim, t) <= MIN_WORKGROUP_STORAGE) return t;
  return 1;
}

export function tiledSharedBytes(headDim: number, tile: number): number {
  return 4 * (3 * tile * headDim + tile * tile + tile);
}

export function splitSharedBytes(headDim: number, group: number): number {
  return 4 * (group * headDim + group * ATTN_WG + ATTN_WG + group);
}

/** The kernel this repository ran before split-KV (one workgroup per query head and token). */
export function perHeadSharedBytes(): number {
  return 4 * (256 + ATTN_WG + ATTN_WG);
}

export interface DecodeFigures {
  /** K/V bytes one decode token must read at least: each cached row of each KV head once. */
  minBytes: number;
  /** K/V (+ partials) bytes the kernel reads per decode token, per layer. */
  bytesRead: number;
  workgroups: number;
  sharedBytes: number;
}

/** One decode token at `len` positions of context, one layer, per kernel. */
export function decodeFigures(s: AttentionShape, len: number, kernel: 'per-head' | 'split'): DecodeFigures {
  const minBytes = 2 * s.nKv * len * s.headDim * s.kvElem;
  if (kernel === 'per-head') {
    // Each query head reads its group's K and V rows itself.
    return {
      minBytes,
      bytesRead: (s.nHead / s.nKv) * minBytes,
      workgroups: s.nHead,
      sharedBytes: perHeadSharedBytes(),
    };
  }
  const { group, blocks } = headBlocks(s);
  const used = activeSplits(splitCount(s), len);
  // Partials are written once and read once by the combine step.
  const partials = 2 * s.nHead * used * partialStride(s.headDim) * 4;
  return {
    minBytes,
    bytesRead: blocks * minBytes + partials,
    workgroups: s.nKv * blocks * used + s.nHead,
    sharedBytes: splitSharedBytes(s.headDim, group),
  };
}

/**
 * K/V bytes a prefill chunk of `n` tokens ending at `len` positions reads per layer (ignoring
 * windows): the old kernel reads every key per query token and head; the tiled one per tile of
 * queries and head. Minimum: each KV row once per chunk.
 */
export function prefillFigures(
  s: AttentionShape,
  len: number,
  n: number,
  kernel: 'per-head' | 'tiled',
): DecodeFigures {
  const row = 2 * s.headDim * s.kvElem;
  const minBytes = s.nKv * len * row;
  const start = len - n;
  if (kernel === 'per-head') {
    let keys = 0;
    for (let t = 0; t < n; t++) keys += start + t + 1;
    return {
      minBytes,
      bytesRead: s.nHead * keys * row,
      workgroups: s.nHead * n,
      sharedBytes: perHeadSharedBytes(),
    };
  }
  const tile = prefillTile(s.headDim);
  let keys = 0;
  for (let t0 = 0; t0 < n; t0 += tile) keys += Math.min(len, start + Math.min(n, t0 + tile));
  return {
    minBytes,
    bytesRead: s.nHead * keys * row,
    workgroups: s.nHead * Math.ceil(n / tile),
    sharedBytes: tiledSharedBytes(s.headDim, tile),
  };
}
