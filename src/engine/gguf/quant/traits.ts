/**
 * The quant-type registry: one row per ggml tensor type Dure knows — block geometry as in llama.cpp's
 * ggml-common.h / ggml.c `type_traits`, whether a CPU dequantizer and a quantizer exist, and how the
 * GPU kernels read it (upload layout + the WGSL snippet `wgsl/quant/<snippet>.wgsl` holding its
 * decoder). Adding a GPU type is one row here plus one snippet file (listed in gpu/sources.ts).
 * A tensor row of `n` elements of type `t` occupies `n / blockSize * bytesPerBlock` bytes, and `n`
 * must be a multiple of `blockSize`.
 */
import { GgufInvalidError, GgufUnknownTypeError } from '../errors.ts';
import { GgmlType } from '../types.ts';

/** Elements in a K-quant super-block (`QK_K`). */
export const QK_K = 256;

export interface GgmlTypeTraits {
  type: GgmlType;
  /** ggml's name, e.g. `q4_K`. */
  name: string;
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  bytesPerBlock: number;
  /** Whether `dequantize` has a CPU reference for this type. */
  dequantizable: boolean;
  /** Whether `quantize` can produce this type. */
  quantizable: boolean;
  /** How the GPU kernels read this type; absent when no kernel does (the model is refused at load). */
  gpu?: GpuQuantLayout;
}

/**
 * GPU upload layout. Storage buffers are read as `array<u32>`, so a block whose byte size is not a
 * multiple of 4 is repacked into structure-of-arrays form: `aux.bytes` bytes at `aux.at` in every
 * block (its f16 scale) move to a region after all the blocks' remaining payload, at word `aux`
 * (see weight-layout.ts). Word-aligned blocks upload as they are (`aux` absent).
 */
export interface GpuQuantLayout {
  aux?: { at: number; bytes: number };
  /** Name of the decoder snippet, `wgsl/quant/<snippet>.wgsl`. */
  snippet: string;
  /**
   * Every 16-element half of a unit starts 16-byte aligned in each of its byte streams, and the
   * snippet's `unit_vec16` reads it with one 16-byte load per stream: the decode GEMV then gives
   * each lane a half-unit (wgsl/gemv.wgsl). Other types' lanes read one word at a time.
   */
  vec16?: true;
}

function gpu(snippet: string, o: { aux?: { at: number; bytes: number }; vec16?: true } = {}): GpuQuantLayout {
  return { snippet, ...o };
}

function t(
  type: GgmlType,
  name: string,
  blockSize: number,
  bytesPerBlock: number,
  dequantizable: boolean,
  quantizable: boolean,
  gpuLayout?: GpuQuantLayout,
): GgmlTypeTraits {
  const row = { type, name, blockSize, bytesPerBlock, dequantizable, quantizable };
  return gpuLayout ? { ...row, gpu: gpuLayout } : row;
}

const TABLE: readonly GgmlTypeTraits[] = [
  t(GgmlType.F32, 'f32', 1, 4, true, true, gpu('f32', { vec16: true })),
  t(GgmlType.F16, 'f16', 1, 2, true, true, gpu('f16', { vec16: true })),
  t(GgmlType.BF16, 'bf16', 1, 2, true, true, gpu('bf16', { vec16: true })),
  // block_q4_0: f16 d; u8 qs[16]
  t(GgmlType.Q4_0, 'q4_0', 32, 18, true, true, gpu('q4_0', { aux: { at: 0, bytes: 2 }, vec16: true })),
  // block_q4_1: f16 d, m; u8 qs[16]
  t(GgmlType.Q4_1, 'q4_1', 32, 20, true, true, gpu('q4_1')),
  // block_q5_0: f16 d; u8 qh[4]; u8 qs[16]
  t(GgmlType.Q5_0, 'q5_0', 32, 22, true, true, gpu('q5_0', { aux: { at: 0, bytes: 2 } })),
  // block_q5_1: f16 d, m; u8 qh[4]; u8 qs[16]
  t(GgmlType.Q5_1, 'q5_1', 32, 24, true, true, gpu('q5_1')),
  // block_q8_0: f16 d; i8 qs[32]
  t(GgmlType.Q8_0, 'q8_0', 32, 34, true, true, gpu('q8_0', { aux: { at: 0, bytes: 2 }, vec16: true })),
  // block_q8_1: f16 d, s; i8 qs[32] (an activation format; readable but not dequantized here)
  t(GgmlType.Q8_1, 'q8_1', 32, 36, false, false),
  // block_q2_K: u8 scales[16]; u8 qs[64]; f16 d, dmin
  t(GgmlType.Q2_K, 'q2_K', QK_K, 84, true, true, gpu('q2_k', { aux: { at: 80, bytes: 4 }, vec16: true })),
  // block_q3_K: u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d
  t(GgmlType.Q3_K, 'q3_K', QK_K, 110, true, true, gpu('q3_k', { aux: { at: 108, bytes: 2 } })),
  // block_q4_K: f16 d, dmin; u8 scales[12]; u8 qs[128]
  t(GgmlType.Q4_K, 'q4_K', QK_K, 144, true, true, gpu('q4_k', { vec16: true })),
  // block_q5_K: f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
  t(GgmlType.Q5_K, 'q5_K', QK_K, 176, true, true, gpu('q5_k', { vec16: true })),
  // block_q6_K: u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d
  t(GgmlType.Q6_K, 'q6_K', QK_K, 210, true, true, gpu('q6_k', { aux: { at: 208, bytes: 2 }, vec16: true })),
  // block_q8_K: f32 d; i8 qs[256]; i16 bsums[16]
  t(GgmlType.Q8_K, 'q8_K', QK_K, 292, false, false),
  // block_iq2_xxs: f16 d; u16 qs[32] — parsed so that a model holding it is refused by name at load
  t(GgmlType.IQ2_XXS, 'iq2_xxs', QK_K, 66, false, false),
  // block_iq4_nl: f16 d; u8 qs[16] (indices into kvalues_iq4nl)
  t(GgmlType.IQ4_NL, 'iq4_nl', 32, 18, true, true, gpu('iq4_nl', { aux: { at: 0, bytes: 2 }, vec16: true })),
  // block_iq4_xs: f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]
  t(GgmlType.IQ4_XS, 'iq4_xs', QK_K, 136, true, true, gpu('iq4_xs')),
  t(GgmlType.I8, 'i8', 1, 1, false, false),
  t(GgmlType.I16, 'i16', 1, 2, false, false),
  t(GgmlType.I32, 'i32', 1, 4, false, false),
  t(GgmlType.I64, 'i64', 1, 8, false, false),
  t(GgmlType.F64, 'f64', 1, 8, false, false),
];

const BY_TYPE = new Map<number, GgmlTypeTraits>(TABLE.map((tr) => [tr.type, tr]));

/** Every ggml type whose block layout Dure knows. */
export const KNOWN_GGML_TYPES: readonly GgmlType[] = TABLE.map((tr) => tr.type);

/** Whether `type` is a ggml type with a known block layout. */
export function isKnownGgmlType(type: number): type is GgmlType {
  return BY_TYPE.has(type);
}

/**
 * Block geometry of `type`.
 * @throws {GgufUnknownTypeError} when `type` is not a ggml type Dure knows.
 */
export function ggmlTypeTraits(type: number): GgmlTypeTraits {
  const tr = BY_TYPE.get(type);
  if (!tr) throw new GgufUnknownTypeError(`unknown ggml tensor type ${type}`);
  return tr;
}

/** Every ggml type the GPU kernels read, in registry order. */
export const GPU_QUANT_TYPES: readonly GgmlType[] = TABLE.filter((tr) => tr.gpu).map((tr) => tr.type);

/** ggml's name of `type` (`q4_K`), or `type<N>` for an unknown number. */
export function ggmlTypeName(type: number): string {
  return BY_TYPE.get(type)?.name ?? `type${type}`;
}

/**
 * Bytes taken by `nElements` elements of `type` (a whole number of blocks).
 * @throws {GgufUnknownTypeError} for an unknown type.
 * @throws {GgufInvalidError} when `nElements` is not a multiple of the block size.
 */
export function ggmlByteLength(type: number, nElements: number): number {
  const tr = ggmlTypeTraits(type);
  if (!Number.isSafeInteger(nElements) || nElements < 0 || nElements % tr.blockSize !== 0) {
    throw new GgufInvalidError(
      `${nElements} elements of ${tr.name} are not a whole number of ${tr.blockSize}-element blocks`,
    );
  }
  return (nElements / tr.blockSize) * tr.bytesPerBlock;
}
