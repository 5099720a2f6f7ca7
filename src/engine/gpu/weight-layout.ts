/**
 * How each ggml weight type sits in a GPU storage buffer (read as `array<u32>` by wgsl/quant.wgsl),
 * as its row in the quant registry (gguf/quant/traits.ts) describes. Types whose blocks are a
 * multiple of 4 bytes are uploaded as they are in the GGUF file. Blocks that are not word aligned
 * (Q8_0 34, Q4_0 18, Q5_0 22, Q6_K 210 bytes) are repacked into structure-of-arrays form — every block's
 * remaining payload, then the moved bytes (the f16 scale) of every block — which costs no extra
 * memory beyond word padding and lets the kernel use aligned word loads.
 */
import { GgmlType } from '../gguf/types.ts';
import { GPU_QUANT_TYPES, ggmlTypeName, isKnownGgmlType, ggmlTypeTraits } from '../gguf/quant/traits.ts';
import type { GgmlTypeTraits, GpuQuantLayout } from '../gguf/quant/traits.ts';
import { UnsupportedWeightTypeError } from '../../protocol/errors.ts';
export { UnsupportedWeightTypeError };

export const GPU_WEIGHT_TYPES: readonly GgmlType[] = GPU_QUANT_TYPES;

type GpuRow = GgmlTypeTraits & { gpu: GpuQuantLayout };

/** The registry row of `type`, which must have a GPU layout. @throws {UnsupportedWeightTypeError} */
export function gpuQuantRow(type: GgmlType): GpuRow {
  const tr = isKnownGgmlType(type) ? ggmlTypeTraits(type) : undefined;
  if (!tr?.gpu) {
    throw new UnsupportedWeightTypeError(
      `weight type ${ggmlTypeName(type).toUpperCase()} has no GPU kernel (supported: ${GPU_WEIGHT_TYPES.map((t) => ggmlTypeName(t).toUpperCase()).join(', ')})`,
    );
  }
  return tr as GpuRow;
}

/** Name of the WGSL decoder snippet of `type`. @throws {UnsupportedWeightTypeError} */
export function quantSnippetName(type: GgmlType): string {
  return gpuQuantRow(type).gpu.snippet;
}

/** Bytes a `rows × k` weight of `type` occupies in the file (and, after repacking, on the GPU). */
export function weightBytes(type: GgmlType, rows: number, k: number): number {
  const l = gpuQuantRow(type);
  return (rows * k * l.bytesPerBlock) / l.blockSize;
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
  const l = gpuQuantRow(type);
  const name = l.name.toUpperCase();
  if (k % 32 !== 0 || k % l.blockSize !== 0) {
    throw new UnsupportedWeightTypeError(`row length ${k} is not a multiple of 32 and of the ${name} block`);
  }
  const expected = weightBytes(type, rows, k);
  if (bytes.byteLength !== expected) {
    throw new UnsupportedWeightTypeError(
      `expected ${expected} bytes for ${rows}×${k} ${name}, got ${bytes.byteLength}`,
    );
  }
  const move = l.gpu.aux;
  if (!move) {
    const data = bytes.byteOffset % 4 === 0 && bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes);
    return { data, aux: 0 };
  }
  const nBlocks = (rows * k) / l.blockSize;
  const payload = l.bytesPerBlock - move.bytes; // a multiple of 4 (checked by the registry test)
  const { at, bytes: m } = move;
  const auxStart = nBlocks * payload;
  const out = new Uint8Array(auxStart + Math.ceil((nBlocks * m) / 4) * 4);
  for (let b = 0; b < nBlocks; b++) {
    const src = b * l.bytesPerBlock;
    out.set(bytes.subarray(src, src + at), b * payload);
    out.set(bytes.subarray(src + at + m, src + l.bytesPerBlock), b * payload + at);
    out.set(bytes.subarray(src + at, src + at + m), auxStart + m * b);
  }
  return { data: out, aux: auxStart / 4 };
}

function padTo4(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  out.set(bytes);
  return out;
}
