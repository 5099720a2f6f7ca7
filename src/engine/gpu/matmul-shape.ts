/**
 * Work shapes of the weight-product kernels (wgsl/gemv.wgsl, wgsl/matmul.wgsl,
 * wgsl/matmul-tiled.wgsl) and which one a batch of a given size runs. Pure numbers, shared by
 * ops.ts and the structural figures in bench/kernel-structure.ts.
 */

/** Invocations per decode (GEMV) workgroup. */
export const GEMV_WG = 128;
/** Lanes per row without subgroups (reduced through workgroup memory): a typical subgroup's width. */
export const GEMV_TEAM = 32;
/**
 * Fewest rows that share one staging of the token's x in a GEMV workgroup. x is f32 (4 bytes per
 * element) against ~0.56 for Q4_K weights, so 16 rows keep the staging traffic under half the
 * weights' (4 rows would make it 1.8×), while Qwen2.5-1.5B's narrowest products still launch 96
 * workgroups (1536 rows), enough to fill a laptop or desktop GPU.
 */
export const GEMV_MIN_ROWS = 16;
/**
 * Rows per workgroup of the register-tile and fused kernels on the subgroup path: one subgroup per
 * row, sized for the widest subgroup the device may use (the kernels loop when the actual one is
 * narrower). `wg`: invocations per workgroup.
 */
export function subgroupRowsFor(wg: number, maxSubgroup: number): number {
  return Math.max(1, Math.floor(wg / Math.max(1, maxSubgroup)));
}

/**
 * Rows per workgroup of the fused gate/up kernel (wgsl/glu.wgsl), from the rows its subgroups
 * would take one each (1 without subgroups): at least GEMV_MIN_ROWS share its RMSNorm and staged x.
 */
export function gluRowsPerGroup(subgroupRows: number): number {
  return Math.max(GEMV_MIN_ROWS, subgroupRows);
}

/** Largest run of x (vec4s) a GEMV workgroup stages at once: 8 KiB, half the guaranteed minimum. */
export const GEMV_X_CHUNK = 512;

/** Batches of at least this many tokens run the shared-memory tiled GEMM. */
export const GEMM_MIN_TOKENS = 8;
/** Output tile of the tiled GEMM: rows × tokens, and its K-step (one 32-element unit). */
export const GEMM_TILE = { rows: 64, tokens: 64, k: 32 } as const;
/** Invocations per tiled-GEMM workgroup (a 16 × 16 grid of 4 × 4 register blocks). */
export const GEMM_WG = 256;

/** Token tile of the register-tile kernel (matmul.wgsl) that serves batches of 2 … GEMM_MIN_TOKENS-1. */
export const MATMUL_TILE = 4;
/** Invocations per register-tile matmul workgroup. */
export const MATMUL_WG = 64;

/** The subgroup sizes a device may run a kernel with (adapter info subgroupMinSize/MaxSize). */
export interface SubgroupRange {
  min: number;
  max: number;
}

/**
 * Assumed when subgroups exist but the adapter does not report sizes: Intel's smallest realistic
 * width and AMD's largest, so no team idles on either (at worst more accumulators than needed).
 */
export const UNKNOWN_SUBGROUPS: SubgroupRange = { min: 8, max: 64 };

export interface GemvShape {
  /** Rows per workgroup (all sharing one staged x). */
  rows: number;
  /** Accumulators per team: rows ÷ the fewest teams a workgroup can have. */
  slots: number;
  /** Lanes per row on the shared-memory path; absent with subgroups (the subgroup is the team). */
  team?: number;
}

/**
 * GEMV rows per workgroup from the subgroup sizes the device may use: one team per row at the
 * *smallest* size (every team busy; a workgroup of 128 has 16 teams of 8 on Intel), at least
 * GEMV_MIN_ROWS rows so x is staged for several rows; a team at the largest size takes `slots` rows.
 * `undefined`: no subgroups, teams of GEMV_TEAM lanes reduced through workgroup memory.
 */
export function gemvShape(sg: SubgroupRange | undefined): GemvShape {
  const teamsAt = (size: number) => Math.max(1, Math.floor(GEMV_WG / Math.max(1, size)));
  if (!sg) {
    const rows = Math.max(GEMV_MIN_ROWS, teamsAt(GEMV_TEAM));
    return { rows, slots: Math.ceil(rows / teamsAt(GEMV_TEAM)), team: GEMV_TEAM };
  }
  const rows = Math.max(GEMV_MIN_ROWS, teamsAt(sg.min));
  return { rows, slots: Math.ceil(rows / teamsAt(Math.max(sg.min, sg.max))) };
}

/** Which kernel a batch of `nTokens` runs (`lastToken` products always take the GEMV). */
export type MatmulKernel = 'gemv' | 'register-tile' | 'tiled-gemm';

export function matmulKernelFor(nTokens: number, lastToken = false): MatmulKernel {
  if (lastToken || nTokens <= 1) return 'gemv';
  return nTokens < GEMM_MIN_TOKENS ? 'register-tile' : 'tiled-gemm';
}
