/**
 * How each ggml weight type sits in a GPU storage buffer (read as `array<u32>` by wgsl/quant.wgsl).
 * Types whose blocks are a multiple of 4 bytes are uploaded as they are in the GGUF file. Q8_0, Q4_0
 * and Q6_K blocks are not word aligned (34, 18, 210 bytes), so they are repacked into
 * structure-of-arrays form — every block's quant payload, then the f16 scales two per word — which
 * costs no extra memory and lets the kernel use aligned word loads.
 */
import { GgmlType } from '../gguf/types.ts';
import { UnsupportedWeightTypeError } from '../../protocol/errors.ts';
export { UnsupportedWeightTypeError };

interface Layout {
  /** Elements per block. */
  block: number;
  /** Bytes per block in the GGUF file. */
  bytes: number;
  /** Byte offset of the f16 scale moved to the scale region, or -1 when kept in place. */
  splitScaleAt: number;
  define: string;
}

const LAYOUTS: Partial<Record<GgmlType, Layout>> = {
  [GgmlType.F32]: { block: 1, bytes: 4, splitScaleAt: -1, define: 'QTYPE_F32' },
  [GgmlType.F16]: { block: 1, bytes: 2, splitScaleAt: -1, define: 'QTYPE_F16' },
  [GgmlType.BF16]: { block: 1, bytes: 2, splitScaleAt: -1, define: 'QTYPE_BF16' },
  [GgmlType.Q8_0]: { block: 32, bytes: 34, splitScaleAt: 0, define: 'QTYPE_Q8_0' },
  [GgmlType.Q4_0]: { block: 32, bytes: 18, splitScaleAt: 0, define: 'QTYPE_Q4_0' },
  [GgmlType.Q4_K]: { block: 256, bytes: 144, splitScaleAt: -1, define: 'QTYPE_Q4_K' },
  [GgmlType.Q6_K]: { block: 256, bytes: 210, splitScaleAt: 208, define: 'QTYPE_Q6_K' },
};

export const GPU_WEIGHT_TYPES: readonly GgmlType[] = Object.keys(LAYOUTS).map(Number);

/** The WGSL define that selects the decoder for `type`. @throws {UnsupportedWeightTypeError} */
export function quantDefine(type: GgmlType): string {
  return layoutOf(type).define;
}

function layoutOf(type: GgmlType): Layout {
  const l = LAYOUTS[type];
  if (!l) {
    throw new UnsupportedWeightTypeError(
      `weight type ${GgmlType[type] ?? type} has no GPU kernel (supported: ${GPU_WEIGHT_TYPES.map((t) => GgmlType[t]).join(', ')})`,
    );
  }
  return l;
}

/** Bytes a `rows × k` weight of `type` occupies in the file (and, after repacking, on the GPU). */
export function weightBytes(type: GgmlType, rows: number, k: number): number {
  const l = layoutOf(type);
  return (rows * k * l.bytes) / l.block;
}

export interface GpuWeightData {
  /** Word-aligned bytes to upload (length a multiple of 4). */
  data: Uint8Array;
  /** Word offset of the scale region (0 when the type keeps scales in its blocks). */
  aux: number;
}

/**
 * Converts `rows` rows of `k` elements from GGUF bytes to the GPU layout.
 * @throws {UnsupportedWeightTypeError} for types without a kernel, or rows not a multiple of 32.
 */
export function toGpuLayout(type: GgmlType, bytes: Uint8Array, rows: number, k: number): GpuWeightData {
  const l = layoutOf(type);
  if (k % 32 !== 0 || k % l.block !== 0) {
    throw new UnsupportedWeightTypeError(
      `row length ${k} is not a multiple of 32 and of the ${GgmlType[type]} block`,
    );
  }
  const expected = weightBytes(type, rows, k);
  if (bytes.byteLength !== expected) {
    throw new UnsupportedWeightTypeError(
      `expected ${expected} bytes for ${rows}×${k} ${GgmlType[type]}, got ${bytes.byteLength}`,
    );
  }
  if (l.splitScaleAt < 0) {
    const data = bytes.byteOffset % 4 === 0 && bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes);
    return { data, aux: 0 };
  }
  const nBlocks = (rows * k) / l.block;
  const payload = l.bytes - 2;
  const scaleStart = nBlocks * payload; // a multiple of 4: payloads are 32, 16, 208 bytes
  const out = new Uint8Array(scaleStart + Math.ceil((nBlocks * 2) / 4) * 4);
  for (let b = 0; b < nBlocks; b++) {
    const src = b * l.bytes;
    const s = l.splitScaleAt;
    out.set(bytes.subarray(src, src + s), b * payload);
    out.set(bytes.subarray(src + s + 2, src + l.bytes), b * payload + s);
    out[scaleStart + 2 * b] = bytes[src + s] as number;
    out[scaleStart + 2 * b + 1] = bytes[src + s + 1] as number;
  }
  return { data: out, aux: scaleStart / 4 };
}

function padTo4(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  out.set(bytes);
  return out;
}
