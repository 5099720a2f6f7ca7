/**
 * Uploads weights slice by slice, so loading never holds a whole tensor (let alone the file) in JS
 * memory: each slice of rows is read into a bounded staging buffer, converted to the GPU layout with
 * the same `toGpuLayout` as a whole upload, and written with `queue.writeBuffer` at the offsets the
 * whole tensor's layout would give it. The result is byte-for-byte what uploadWeight /
 * uploadWeightGroup produce (streamed-upload.test.ts checks this for every GPU weight type).
 *
 * Layout model (probed from `toGpuLayout` on one row, not copied from its table): a type either
 * keeps its rows as they are (aux 0), or moves each row's `scaleBytes` to a scale region after all
 * rows' payloads. A row slice's layout is then [slice payloads][slice scales], which lands at
 * `r0 · payload` and `scaleStart + r0 · scale` of the whole tensor's layout.
 */
import type { GgmlType } from '../gguf/types.ts';
import type { GpuWeight, GpuWeightPart } from './gpu-weight.ts';
import { toGpuLayout, weightBytes } from './weight-layout.ts';

/** Reads `length` bytes at `offset` from the start of one tensor's data. */
export type TensorBytes = (offset: number, length: number) => Promise<Uint8Array>;

/** Largest slice read and repacked at once. */
export const STAGING_SLICE_BYTES = 8 * 1024 * 1024;

interface RowLayout {
  /** Bytes of one row in the file. */
  rowBytes: number;
  /** Bytes of one row's payload in the GPU layout (rowBytes when nothing is moved). */
  payload: number;
  /** Bytes of one row's scales moved to the scale region (0: none). */
  scale: number;
}

function rowLayout(type: GgmlType, k: number): RowLayout {
  const rowBytes = weightBytes(type, 1, k);
  const { aux } = toGpuLayout(type, new Uint8Array(rowBytes), 1, k);
  const payload = aux === 0 ? rowBytes : aux * 4;
  return { rowBytes, payload, scale: rowBytes - payload };
}

/** Size and scale-region word offset of `rows` rows in the GPU layout (as toGpuLayout gives). */
function partLayout(l: RowLayout, rows: number): { size: number; aux: number } {
  if (l.scale === 0) return { size: Math.ceil((rows * l.rowBytes) / 4) * 4, aux: 0 };
  const scaleStart = rows * l.payload;
  return { size: scaleStart + Math.ceil((rows * l.scale) / 4) * 4, aux: scaleStart / 4 };
}

/** Rows per slice: within the staging bound, and a count whose byte offsets stay word aligned. */
function sliceRows(l: RowLayout, sliceBytes: number): number {
  let step = 1;
  while ((step * l.payload) % 4 !== 0 || (step * l.scale) % 4 !== 0) step++;
  return Math.max(step, Math.floor(sliceBytes / l.rowBytes / step) * step);
}

/** Streams `rows` rows (file rows `rowStart…`) into `buffer` at `base`, in the whole layout. */
async function writeRows(
  device: GPUDevice,
  buffer: GPUBuffer,
  base: number,
  type: GgmlType,
  k: number,
  l: RowLayout,
  rowStart: number,
  rows: number,
  read: TensorBytes,
  sliceBytes: number,
): Promise<void> {
  const step = sliceRows(l, sliceBytes);
  const scaleStart = rows * l.payload;
  for (let r = 0; r < rows; r += step) {
    const n = Math.min(step, rows - r);
    const raw = await read((rowStart + r) * l.rowBytes, n * l.rowBytes);
    const { data, aux } = toGpuLayout(type, raw, n, k);
    if (l.scale === 0) {
      device.queue.writeBuffer(buffer, base + r * l.rowBytes, data.buffer, data.byteOffset, data.byteLength);
      continue;
    }
    const p = aux * 4;
    device.queue.writeBuffer(buffer, base + r * l.payload, data.buffer, data.byteOffset, p);
    device.queue.writeBuffer(
      buffer,
      base + scaleStart + r * l.scale,
      data.buffer,
      data.byteOffset + p,
      data.byteLength - p,
    );
  }
}

/**
 * uploadWeight, streamed: same parts (row splits at the binding limit), same bytes.
 * @throws {import('./weight-layout.ts').UnsupportedWeightTypeError}
 */
export async function uploadWeightStreamed(
  device: GPUDevice,
  name: string,
  type: GgmlType,
  read: TensorBytes,
  rows: number,
  k: number,
  maxBindingBytes = device.limits.maxStorageBufferBindingSize,
  sliceBytes = STAGING_SLICE_BYTES,
): Promise<GpuWeight> {
  const l = rowLayout(type, k);
  const maxRows = Math.max(1, Math.floor(maxBindingBytes / (l.rowBytes + 2)));
  const parts: GpuWeightPart[] = [];
  let total = 0;
  try {
    for (let rowStart = 0; rowStart < rows; rowStart += maxRows) {
      const n = Math.min(maxRows, rows - rowStart);
      const { size, aux } = partLayout(l, n);
      const buffer = device.createBuffer({
        label: parts.length ? `${name}#${parts.length}` : name,
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      });
      parts.push({ buffer, offset: 0, size, rowStart, rows: n, aux });
      await writeRows(device, buffer, 0, type, k, l, rowStart, n, read, sliceBytes);
      total += size;
    }
  } catch (e) {
    for (const p of parts) p.buffer.destroy();
    throw e;
  }
  return { name, type, rows, k, parts, bytes: total };
}

export interface StreamedUpload {
  name: string;
  type: GgmlType;
  read: TensorBytes;
  rows: number;
  k: number;
}

/**
 * uploadWeightGroup, streamed: one shared buffer, members at aligned offsets; undefined (nothing
 * uploaded) when the group cannot share a buffer.
 */
export async function uploadWeightGroupStreamed(
  device: GPUDevice,
  label: string,
  items: StreamedUpload[],
  maxBindingBytes = device.limits.maxStorageBufferBindingSize,
  sliceBytes = STAGING_SLICE_BYTES,
): Promise<GpuWeight[] | undefined> {
  const first = items[0];
  if (!first || items.some((i) => i.type !== first.type || i.k !== first.k)) return undefined;
  const align = Math.max(256, device.limits.minStorageBufferOffsetAlignment);
  const l = rowLayout(first.type, first.k);
  const layouts = items.map((i) => partLayout(l, i.rows));
  const offsets: number[] = [];
  let total = 0;
  for (const p of layouts) {
    total = Math.ceil(total / align) * align;
    offsets.push(total);
    total += p.size;
  }
  if (total > maxBindingBytes) return undefined;
  const buffer = device.createBuffer({
    label,
    size: Math.ceil(total / 4) * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  try {
    for (const [i, item] of items.entries()) {
      await writeRows(device, buffer, offsets[i]!, item.type, item.k, l, 0, item.rows, item.read, sliceBytes);
    }
  } catch (e) {
    buffer.destroy();
    throw e;
  }
  return items.map((item, i) => {
    const { size, aux } = layouts[i]!;
    const part = { buffer, offset: offsets[i]!, size, rowStart: 0, rows: item.rows, aux };
    return { name: item.name, type: item.type, rows: item.rows, k: item.k, parts: [part], bytes: size };
  });
}
