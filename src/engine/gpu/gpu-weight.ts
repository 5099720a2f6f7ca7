/**
 * A weight matrix on the GPU: `rows` rows of `k` elements of one ggml type, possibly split by rows
 * across several buffers when it is larger than the device's `maxStorageBufferBindingSize`.
 */
import { GgmlType } from '../gguf/types.ts';
import { toGpuLayout, weightBytes } from './weight-layout.ts';

export interface GpuWeightPart {
  /** May be shared with other weights of a group (see uploadWeightGroup). */
  buffer: GPUBuffer;
  /** Byte range of this part in `buffer`. */
  offset: number;
  size: number;
  rowStart: number;
  rows: number;
  aux: number;
}

/** The part's byte range as a binding, for kernels that read one tensor. */
export function partBinding(part: GpuWeightPart): GPUBufferBinding {
  return { buffer: part.buffer, offset: part.offset, size: part.size };
}

export interface GpuWeight {
  name: string;
  type: GgmlType;
  rows: number;
  k: number;
  parts: GpuWeightPart[];
  bytes: number;
}

/**
 * Uploads a weight in the GPU layout. Row splits fall on whole rows, so every part decodes alone.
 * @throws {import('./weight-layout.ts').UnsupportedWeightTypeError}
 */
export function uploadWeight(
  device: GPUDevice,
  name: string,
  type: GgmlType,
  bytes: Uint8Array,
  rows: number,
  k: number,
  /** Largest part in bytes; the device limit unless a test forces splitting. */
  maxBindingBytes = device.limits.maxStorageBufferBindingSize,
): GpuWeight {
  const rowBytes = weightBytes(type, 1, k);
  const maxRows = Math.max(1, Math.floor(maxBindingBytes / (rowBytes + 2)));
  const parts: GpuWeightPart[] = [];
  let total = 0;
  for (let rowStart = 0; rowStart < rows; rowStart += maxRows) {
    const n = Math.min(maxRows, rows - rowStart);
    const slice = bytes.subarray(rowStart * rowBytes, (rowStart + n) * rowBytes);
    const { data, aux } = toGpuLayout(type, slice, n, k);
    const buffer = device.createBuffer({
      label: parts.length ? `${name}#${parts.length}` : name,
      size: data.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    parts.push({ buffer, offset: 0, size: data.byteLength, rowStart, rows: n, aux });
    total += data.byteLength;
  }
  return { name, type, rows, k, parts, bytes: total };
}

export interface WeightUpload {
  name: string;
  type: GgmlType;
  bytes: Uint8Array;
  rows: number;
  k: number;
}

/** Group members start at multiples of this, so each can also be bound alone (WebGPU offset rule). */
function groupAlign(device: GPUDevice): number {
  return Math.max(256, device.limits.minStorageBufferOffsetAlignment);
}

/**
 * Uploads same-type weights with the same row length into ONE buffer, each at an aligned offset,
 * so a fused kernel reads them all through one binding (q|k|v, gate|up: see qkv.wgsl, glu.wgsl)
 * while every other kernel still binds each alone (partBinding). Returns undefined, uploading
 * nothing, when the group cannot share a buffer: mixed types (Q4_K_M files give some v
 * projections Q6_K) or a total above the binding limit; the caller then uploads them one by one.
 * @throws {import('./weight-layout.ts').UnsupportedWeightTypeError}
 */
export function uploadWeightGroup(
  device: GPUDevice,
  label: string,
  items: WeightUpload[],
  maxBindingBytes = device.limits.maxStorageBufferBindingSize,
): GpuWeight[] | undefined {
  const first = items[0];
  if (!first || items.some((i) => i.type !== first.type || i.k !== first.k)) return undefined;
  const align = groupAlign(device);
  const layouts = items.map((i) => toGpuLayout(i.type, i.bytes, i.rows, i.k));
  const offsets: number[] = [];
  let total = 0;
  for (const l of layouts) {
    total = Math.ceil(total / align) * align;
    offsets.push(total);
    total += l.data.byteLength;
  }
  if (total > maxBindingBytes) return undefined;
  const buffer = device.createBuffer({
    label,
    size: Math.ceil(total / 4) * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  return items.map((item, i) => {
    const { data, aux } = layouts[i]!;
    const offset = offsets[i]!;
    device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
    const part = { buffer, offset, size: data.byteLength, rowStart: 0, rows: item.rows, aux };
    return {
      name: item.name,
      type: item.type,
      rows: item.rows,
      k: item.k,
      parts: [part],
      bytes: data.byteLength,
    };
  });
}

/** Several weights sharing one buffer (uploadWeightGroup) → that buffer, else undefined. */
export function sharedBuffer(weights: GpuWeight[]): GPUBuffer | undefined {
  const b = weights[0]?.parts[0]?.buffer;
  return b && weights.every((w) => w.parts.length === 1 && w.parts[0]!.buffer === b) ? b : undefined;
}

/** Frees a weight's buffers (a buffer shared by a group is freed once; destroy is idempotent). */
export function destroyWeight(w: GpuWeight): void {
  for (const p of w.parts) p.buffer.destroy();
}

/** A plain f32 vector (norm weights, biases) as a storage buffer. */
export function uploadF32(device: GPUDevice, label: string, values: Float32Array): GPUBuffer {
  const buffer = device.createBuffer({
    label,
    size: Math.max(4, values.byteLength),
    // COPY_SRC: fused kernels gather a layer's small vectors into one binding.
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  device.queue.writeBuffer(buffer, 0, values.buffer, values.byteOffset, values.byteLength);
  return buffer;
}

export { GgmlType };
