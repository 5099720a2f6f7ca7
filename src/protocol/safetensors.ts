/**
 * Safetensors (https://github.com/huggingface/safetensors#format) reader and writer:
 * 8-byte little-endian header length, a JSON header, then raw little-endian tensor data.
 * Everything a peer sends is validated: header size, JSON shape, dtypes, shapes, and that
 * the data offsets tile the data region exactly (no gaps, overlaps or trailing bytes), so
 * a crafted file cannot make a reader index outside its buffer.
 */
import { SafetensorsError } from './errors.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** One tensor's entry in a header; `begin`/`end` are absolute byte offsets in the file. */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** In file order (ascending offsets). */
  tensors: TensorInfo[];
  /** Absolute offset where tensor data begins (8 + header length). */
  dataStart: number;
  /** Total file size the header implies. */
  totalSize: number;
}

export interface SafetensorsLimits {
  /** Largest JSON header accepted, in bytes. */
  maxHeaderBytes: number;
  /** Largest whole file accepted, in bytes. */
  maxTotalBytes: number;
  /** Most tensors accepted. */
  maxTensors: number;
}

export const DEFAULT_SAFETENSORS_LIMITS: SafetensorsLimits = {
  maxHeaderBytes: 4 * 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024,
  maxTensors: 100_000,
};

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Reads the header length from a file's first 8 bytes.
 * @throws {SafetensorsError} if fewer than 8 bytes are given or the length exceeds the limit.
 */
export function readHeaderLength(
  first8: Uint8Array,
  limits: SafetensorsLimits = DEFAULT_SAFETENSORS_LIMITS,
): number {
  if (first8.byteLength < 8) throw new SafetensorsError('file shorter than the 8-byte header length');
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const len = view.getBigUint64(0, true);
  if (len === 0n) throw new SafetensorsError('empty header');
  if (len > BigInt(limits.maxHeaderBytes)) {
    throw new SafetensorsError(`header of ${len} bytes exceeds the ${limits.maxHeaderBytes}-byte limit`);
  }
  return Number(len);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and validates a JSON header given the file's total size.
 * @throws {SafetensorsError} on malformed JSON, unknown dtypes, bad shapes, or offsets that do not
 * exactly tile the data region.
 */
export function parseHeader(
  headerBytes: Uint8Array,
  totalSize: number,
  limits: SafetensorsLimits = DEFAULT_SAFETENSORS_LIMITS,
): SafetensorsHeader {
  if (totalSize > limits.maxTotalBytes) {
    throw new SafetensorsError(`file of ${totalSize} bytes exceeds the ${limits.maxTotalBytes}-byte limit`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (cause) {
    throw new SafetensorsError('header is not valid UTF-8 JSON', { cause });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsError('header is not a JSON object');
  }
  const dataStart = 8 + headerBytes.byteLength;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new SafetensorsError('__metadata__ must be an object of strings');
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (tensors.length >= limits.maxTensors)
      throw new SafetensorsError(`more than ${limits.maxTensors} tensors`);
    if (typeof entry !== 'object' || entry === null)
      throw new SafetensorsError(`tensor ${name}: not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new SafetensorsError(`tensor ${name}: unsupported dtype ${String(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt) || shape.length > 8) {
      throw new SafetensorsError(`tensor ${name}: bad shape`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
      throw new SafetensorsError(`tensor ${name}: bad data_offsets`);
    }
    const [b, e] = offsets as [number, number];
    const elements = (shape as number[]).reduce((a, d) => a * d, 1);
    const d = dtype as SafetensorsDtype;
    if (!Number.isSafeInteger(elements) || e - b !== elements * DTYPE_BYTES[d] || e < b) {
      throw new SafetensorsError(`tensor ${name}: data_offsets do not match shape × dtype size`);
    }
    tensors.push({ name, dtype: d, shape: shape as number[], begin: dataStart + b, end: dataStart + e });
  }
  tensors.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let cursor = dataStart;
  for (const t of tensors) {
    if (t.begin !== cursor)
      throw new SafetensorsError(`tensor ${t.name}: data offsets leave a gap or overlap`);
    cursor = t.end;
  }
  if (cursor !== totalSize) {
    throw new SafetensorsError(`data region ends at ${cursor} but the file has ${totalSize} bytes`);
  }
  return { metadata, tensors, dataStart, totalSize };
}

/**
 * Reads a whole safetensors buffer.
 * @throws {SafetensorsError} on any malformation (see {@link parseHeader}).
 */
export function readSafetensors(
  bytes: Uint8Array,
  limits: SafetensorsLimits = DEFAULT_SAFETENSORS_LIMITS,
): { metadata: Record<string, string>; tensors: Map<string, NamedTensor> } {
  const len = readHeaderLength(bytes, limits);
  if (8 + len > bytes.byteLength) throw new SafetensorsError('header runs past the end of the file');
  const header = parseHeader(bytes.subarray(8, 8 + len), bytes.byteLength, limits);
  const tensors = new Map<string, NamedTensor>();
  for (const t of header.tensors) {
    tensors.set(t.name, {
      name: t.name,
      shape: t.shape,
      data: decodeTensorData(t.dtype, bytes.subarray(t.begin, t.end)),
    });
  }
  return { metadata: header.metadata, tensors };
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** True on little-endian hosts (all current browsers' and Node's platforms), where F32 is a plain copy. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Decodes little-endian tensor bytes of `dtype` to float32 (copying, so alignment never matters). */
export function decodeTensorData(dtype: SafetensorsDtype, bytes: Uint8Array): Float32Array {
  // Uint8Array.from copies even a Node Buffer (whose slice() is a view into a shared pool).
  if (dtype === 'F32' && LITTLE_ENDIAN) return new Float32Array(Uint8Array.from(bytes).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  if (dtype === 'F32') for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  else if (dtype === 'F16') for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
  else {
    const u = new Uint32Array(1);
    const f = new Float32Array(u.buffer);
    for (let i = 0; i < n; i++) {
      u[0] = view.getUint16(i * 2, true) << 16;
      out[i] = f[0]!;
    }
  }
  return out;
}

/** Builds the header JSON and the total size for float32 tensors, in the order given. */
export function encodeHeader(
  tensors: ReadonlyArray<{ name: string; shape: number[] }>,
  metadata: Record<string, string> = {},
): { header: Uint8Array; totalSize: number } {
  const obj: Record<string, unknown> = {};
  if (Object.keys(metadata).length) obj['__metadata__'] = metadata;
  let off = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new SafetensorsError('tensor name __metadata__ is reserved');
    const bytes = t.shape.reduce((a, d) => a * d, 1) * 4;
    obj[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  const raw = new TextEncoder().encode(JSON.stringify(obj));
  // Pad with spaces so tensor data starts 8-byte aligned, as the reference writer does.
  const padded = Math.ceil(raw.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(raw, 8);
  return { header, totalSize: 8 + padded + off };
}

/**
 * Writes float32 tensors (and optional string metadata) as one safetensors buffer.
 * @throws {SafetensorsError} if a tensor's data length does not match its shape.
 */
export function writeSafetensors(
  tensors: ReadonlyArray<NamedTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const { header, totalSize } = encodeHeader(tensors, metadata);
  const out = new Uint8Array(totalSize);
  out.set(header, 0);
  const view = new DataView(out.buffer);
  let pos = header.byteLength;
  for (const t of tensors) {
    const n = t.shape.reduce((a, d) => a * d, 1);
    if (n !== t.data.length)
      throw new SafetensorsError(`tensor ${t.name}: ${t.data.length} values for shape ${t.shape}`);
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, n * 4), pos);
      pos += n * 4;
    } else for (let i = 0; i < n; i++, pos += 4) view.setFloat32(pos, t.data[i]!, true);
  }
  return out;
}
