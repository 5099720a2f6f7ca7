/**
 * A weight matrix on the GPU: `rows` rows of `k` elements of one ggml type, possibly split by rows
 * across several buffers when it is larger than the device's `maxStorageBufferBindingSize`.
 */
import { GgmlType } from '../gguf/types.ts';
import { toGpuLayout, weightBytes } from './weight-layout.ts';

export interface GpuWeightPart {
  buffer: GPUBuffer;
  rowStart: number;
  rows: number;
  aux: number;
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
    parts.push({ buffer, rowStart, rows: n, aux });
    total += data.byteLength;
  }
  return { name, type, rows, k, parts, bytes: total };
}

export function destroyWeight(w: GpuWeight): void {
  for (const p of w.parts) p.buffer.destroy();
}

/** A plain f32 vector (norm weights, biases) as a storage buffer. */
export function uploadF32(device: GPUDevice, label: string, values: Float32Array): GPUBuffer {
  const buffer = device.createBuffer({
    label,
    size: Math.max(4, values.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, values.buffer, values.byteOffset, values.byteLength);
  return buffer;
}

export { GgmlType };
