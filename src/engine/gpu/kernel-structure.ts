/**
 * Structural figures of the weight-product kernels for a model shape, computed from the work
 * shapes ops.ts really uses (matmul-shape.ts) — no GPU needed: bytes each kernel asks memory for
 * per decode step against the minimum, workgroups launched, workgroup memory per workgroup, lanes
 * left idle by the actual subgroup size, and for prefill how often each weight is read per chunk.
 * bench/kernel-structure.ts prints them for bench/README.md.
 */
import {
  GEMM_TILE,
  GEMV_WG,
  GEMV_X_CHUNK,
  gemvShape,
  MATMUL_TILE,
  MATMUL_WG,
  subgroupRowsFor,
  type SubgroupRange,
} from './matmul-shape.ts';

/** One weight matrix of a layer (or the output head): rows × k, `count` times per model. */
export interface MatrixShape {
  name: string;
  rows: number;
  k: number;
  count: number;
}

/** A model's weight products and the bytes per weight of its quant type. */
export interface ModelShape {
  matrices: MatrixShape[];
  /** Bytes per weight (Q4_K: 144 bytes per 256). */
  bytesPerWeight: number;
}

/** Qwen2.5-1.5B: hidden 1536, 12 query / 2 KV heads of 128, FFN 8960, 28 layers, vocab 151936 (tied). */
export function qwen25_1_5b(bytesPerWeight = 144 / 256): ModelShape {
  const h = 1536;
  const kv = 2 * 128;
  const f = 8960;
  const L = 28;
  return {
    bytesPerWeight,
    matrices: [
      { name: 'q', rows: h, k: h, count: L },
      { name: 'k', rows: kv, k: h, count: L },
      { name: 'v', rows: kv, k: h, count: L },
      { name: 'o', rows: h, k: h, count: L },
      { name: 'gate', rows: f, k: h, count: L },
      { name: 'up', rows: f, k: h, count: L },
      { name: 'down', rows: h, k: f, count: L },
      { name: 'output', rows: 151936, k: h, count: 1 },
    ],
  };
}

export interface DecodeFigures {
  /** Weight bytes + one read of each input vector + the outputs: what a perfect kernel moves. */
  minBytes: number;
  /** Bytes the kernel's global loads and stores ask for (input vectors re-read per row or per workgroup). */
  requestedBytes: number;
  /** requestedBytes ÷ minBytes. */
  ratio: number;
  workgroups: number;
  /** Workgroup memory of the largest workgroup, bytes. */
  sharedBytes: number;
  /** Share of the lanes launched that have no row to work on, at the actual subgroup size. */
  idleLanes: number;
}

/**
 * The register-tile kernel (wgsl/matmul.wgsl) on one token, subgroup path: one subgroup per row,
 * 64 / subgroupMaxSize rows per workgroup; every row's subgroup reads the whole input vector.
 */
export function registerTileDecode(model: ModelShape, sg: SubgroupRange, actual: number): DecodeFigures {
  const rowsPerGroup = subgroupRowsFor(MATMUL_WG, sg.max);
  const subgroups = Math.max(1, Math.floor(MATMUL_WG / actual));
  return decodeFigures(model, {
    rowsPerGroup,
    xReadsPerGroup: rowsPerGroup,
    sharedBytes: () => 0,
    idleLanes: Math.max(0, 1 - rowsPerGroup / subgroups),
  });
}

/** The GEMV (wgsl/gemv.wgsl): x staged once per workgroup of gemvShape(sg).rows rows. */
export function gemvDecode(model: ModelShape, sg: SubgroupRange, actual: number): DecodeFigures {
  const shape = gemvShape(sg);
  const teams = Math.max(1, Math.floor(GEMV_WG / actual));
  // A team takes rows team, team + teams, … of the workgroup's `rows`: the busy share of the teams.
  const busy = Math.min(1, shape.rows / teams);
  return decodeFigures(model, {
    rowsPerGroup: shape.rows,
    xReadsPerGroup: 1,
    sharedBytes: (k) => 16 * Math.min(GEMV_X_CHUNK, k / 4),
    idleLanes: 1 - busy,
  });
}

function decodeFigures(
  model: ModelShape,
  o: { rowsPerGroup: number; xReadsPerGroup: number; sharedBytes: (k: number) => number; idleLanes: number },
): DecodeFigures {
  let minBytes = 0;
  let requestedBytes = 0;
  let workgroups = 0;
  let sharedBytes = 0;
  for (const m of model.matrices) {
    const weights = m.rows * m.k * model.bytesPerWeight;
    const groups = Math.ceil(m.rows / o.rowsPerGroup);
    minBytes += m.count * (weights + 4 * m.k + 4 * m.rows);
    requestedBytes += m.count * (weights + groups * o.xReadsPerGroup * 4 * m.k + 4 * m.rows);
    workgroups += m.count * groups;
    sharedBytes = Math.max(sharedBytes, o.sharedBytes(m.k));
  }
  return withRatio({ minBytes, requestedBytes, workgroups, sharedBytes, idleLanes: o.idleLanes });
}

function withRatio<T extends Omit<DecodeFigures, 'ratio'>>(f: T): T & { ratio: number } {
  return { ...f, ratio: f.requestedBytes / f.minBytes };
}

/** A decode step's products as the engine records them on a GPU (forward.ts, ops.ts). */
export interface DecodeStepPlan {
  /** Rows per workgroup of the fused gate/up kernel (wgsl/glu.wgsl SG_ROWS). */
  gluRows: number;
  /** q/k/v through the fused kernel, one workgroup per head (else separate GEMVs). */
  fusedQkv: boolean;
  /** Rows per head (the fused q/k/v kernel's workgroup). */
  headDim: number;
}

export interface DecodeStepFigures extends DecodeFigures {
  /**
   * The most weight bytes one subgroup walks in a step: the serial work of the slowest lane group,
   * which bounds how well memory latency is hidden when few workgroups run.
   */
  maxBytesPerSubgroup: number;
  /** Fewest workgroups any of the step's weight dispatches launches. */
  minWorkgroups: number;
}

/**
 * The whole decode step's weight products as the engine runs them on a GPU with subgroups: gate
 * and up in the fused kernel (one staging of the normalised x per workgroup of `gluRows` rows,
 * subgroups taking its rows in turn), q/k/v in the fused kernel (a workgroup per head, its 64
 * invocations' subgroups taking the head's rows in turn) or in GEMVs, everything else in GEMVs.
 * x is read once per workgroup, plus the norm weight where a kernel folds the norm in.
 */
export function decodeStep(
  model: ModelShape,
  sg: SubgroupRange,
  actual: number,
  plan: DecodeStepPlan,
): DecodeStepFigures {
  const gemv = gemvShape(sg);
  const gemvTeams = Math.max(1, Math.floor(GEMV_WG / actual));
  const fusedSubgroups = Math.max(1, Math.floor(MATMUL_WG / actual));
  let minBytes = 0;
  let requestedBytes = 0;
  let workgroups = 0;
  let sharedBytes = 0;
  let maxBytesPerSubgroup = 0;
  let minWorkgroups = Infinity;
  let qkvGroups = 0;
  const up = model.matrices.find((m) => m.name === 'up');
  for (const m of model.matrices) {
    const rowBytes = m.k * model.bytesPerWeight;
    const weights = m.rows * rowBytes;
    minBytes += m.count * (weights + 4 * m.k + 4 * m.rows);
    let groups: number;
    let xBytesPerGroup = 4 * m.k;
    let rowsPerSubgroup: number;
    let weightRows = 1; // rows of weights per output row (gate and up together: 2)
    const inFusedQkv = plan.fusedQkv && (m.name === 'q' || m.name === 'k' || m.name === 'v');
    if (m.name === 'up') {
      // Counted with gate: same workgroups, same staged x.
      requestedBytes += m.count * weights;
      continue;
    }
    if (m.name === 'gate') {
      groups = Math.ceil(m.rows / plan.gluRows);
      xBytesPerGroup = 8 * m.k; // x and the norm weight
      rowsPerSubgroup = Math.ceil(plan.gluRows / fusedSubgroups);
      weightRows = up ? 2 : 1;
      sharedBytes = Math.max(sharedBytes, 4 * m.k);
    } else if (inFusedQkv) {
      groups = m.rows / plan.headDim;
      xBytesPerGroup = 8 * m.k;
      rowsPerSubgroup = Math.ceil(plan.headDim / fusedSubgroups);
      sharedBytes = Math.max(sharedBytes, 4 * m.k);
    } else {
      groups = Math.ceil(m.rows / gemv.rows);
      rowsPerSubgroup = Math.ceil(gemv.rows / gemvTeams);
      sharedBytes = Math.max(sharedBytes, 16 * Math.min(GEMV_X_CHUNK, m.k / 4));
    }
    requestedBytes += m.count * (weights + groups * xBytesPerGroup + 4 * m.rows);
    workgroups += m.count * groups;
    // The fused q/k/v kernel is one dispatch over all three matrices' heads.
    if (inFusedQkv) qkvGroups += groups;
    else minWorkgroups = Math.min(minWorkgroups, groups);
    maxBytesPerSubgroup = Math.max(maxBytesPerSubgroup, rowsPerSubgroup * weightRows * rowBytes);
  }
  if (qkvGroups) minWorkgroups = Math.min(minWorkgroups, qkvGroups);
  return withRatio({
    minBytes,
    requestedBytes,
    workgroups,
    sharedBytes,
    // The fused gate/up kernel's: its rows follow the plan, the GEMV's the device's subgroup range.
    idleLanes: Math.max(0, 1 - plan.gluRows / fusedSubgroups),
    maxBytesPerSubgroup,
    minWorkgroups,
  });
}

export interface PrefillFigures {
  /** Times each weight is read (and dequantized) for a chunk of `tokens` tokens. */
  weightReads: number;
  /** Workgroups launched for the chunk, all matrices. */
  workgroups: number;
  sharedBytes: number;
}

/** Register tile: each weight read once per 4-token tile; workgroups of 64 / subgroupMaxSize rows. */
export function registerTilePrefill(model: ModelShape, sg: SubgroupRange, tokens: number): PrefillFigures {
  const rowsPerGroup = subgroupRowsFor(MATMUL_WG, sg.max);
  const tiles = Math.ceil(tokens / MATMUL_TILE);
  const workgroups = model.matrices.reduce(
    (s, m) => s + m.count * Math.ceil(m.rows / rowsPerGroup) * tiles,
    0,
  );
  return { weightReads: tiles, workgroups, sharedBytes: 0 };
}

/** Tiled GEMM: each weight read once per 64-token tile; 64 × 64 output tiles. */
export function tiledGemmPrefill(model: ModelShape, tokens: number, f16: boolean): PrefillFigures {
  const tiles = Math.ceil(tokens / GEMM_TILE.tokens);
  const workgroups = model.matrices.reduce(
    (s, m) => s + m.count * Math.ceil(m.rows / GEMM_TILE.rows) * tiles,
    0,
  );
  const sharedBytes = (GEMM_TILE.rows + GEMM_TILE.tokens) * GEMM_TILE.k * (f16 ? 2 : 4);
  return { weightReads: tiles, workgroups, sharedBytes };
}

/** Subgroup size classes: the range a device reports and the sizes its kernels actually run at. */
export const SUBGROUP_CLASSES: { name: string; range: SubgroupRange; actual: number[] }[] = [
  { name: 'NVIDIA', range: { min: 32, max: 32 }, actual: [32] },
  { name: 'AMD RDNA', range: { min: 32, max: 64 }, actual: [32, 64] },
  { name: 'Intel Xe', range: { min: 8, max: 32 }, actual: [8, 16, 32] },
  { name: 'Apple', range: { min: 32, max: 32 }, actual: [32] },
];
