/**
 * GGUF v3 writer: metadata KVs in the given order, tensor infos, then tensor data, each tensor
 * starting at a multiple of the alignment (as llama.cpp's gguf_write does). Used by the test-model
 * generator and for round-trip tests of the reader.
 */
import { GgufInvalidError } from '../../engine/gguf/errors.ts';
import { ggmlByteLength, ggmlTypeTraits } from '../../engine/gguf/quant/traits.ts';
import { GGML_MAX_DIMS, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC } from '../../engine/gguf/reader.ts';
import {
  GgmlType,
  GgufValueType,
  type GgufArray,
  type GgufKv,
  type GgufValue,
} from '../../engine/gguf/types.ts';

/** A tensor to write: ggml dims (`dims[0]` innermost) and its already-encoded bytes. */
export interface GgufTensorInput {
  name: string;
  dims: readonly number[];
  type: GgmlType;
  data: Uint8Array;
}

export interface GgufWriteInput {
  metadata: Iterable<readonly [string, GgufKv]>;
  tensors: readonly GgufTensorInput[];
  /** Defaults to `general.alignment` from the metadata, else 32. A non-default value is recorded there. */
  alignment?: number;
}

/** Constructors for typed metadata entries. */
export const kv = {
  u8: (value: number): GgufKv => ({ type: GgufValueType.UINT8, value }),
  i8: (value: number): GgufKv => ({ type: GgufValueType.INT8, value }),
  u16: (value: number): GgufKv => ({ type: GgufValueType.UINT16, value }),
  i16: (value: number): GgufKv => ({ type: GgufValueType.INT16, value }),
  u32: (value: number): GgufKv => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufKv => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): GgufKv => ({ type: GgufValueType.FLOAT32, value }),
  f64: (value: number): GgufKv => ({ type: GgufValueType.FLOAT64, value }),
  u64: (value: bigint): GgufKv => ({ type: GgufValueType.UINT64, value }),
  i64: (value: bigint): GgufKv => ({ type: GgufValueType.INT64, value }),
  bool: (value: boolean): GgufKv => ({ type: GgufValueType.BOOL, value }),
  str: (value: string): GgufKv => ({ type: GgufValueType.STRING, value }),
  strs: (value: string[]): GgufKv => ({ type: GgufValueType.ARRAY, arrayType: GgufValueType.STRING, value }),
  i32s: (value: Int32Array): GgufKv => ({ type: GgufValueType.ARRAY, arrayType: GgufValueType.INT32, value }),
  u32s: (value: Uint32Array): GgufKv => ({
    type: GgufValueType.ARRAY,
    arrayType: GgufValueType.UINT32,
    value,
  }),
  f32s: (value: Float32Array): GgufKv => ({
    type: GgufValueType.ARRAY,
    arrayType: GgufValueType.FLOAT32,
    value,
  }),
  bools: (value: boolean[]): GgufKv => ({ type: GgufValueType.ARRAY, arrayType: GgufValueType.BOOL, value }),
};

const utf8 = new TextEncoder();

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.byteLength) {
      let cap = this.buf.byteLength * 2;
      while (cap < this.length + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const o = this.length;
    this.length += n;
    return o;
  }

  u8(v: number): void {
    const o = this.reserve(1); // may replace this.view
    this.view.setUint8(o, v);
  }
  i8(v: number): void {
    const o = this.reserve(1); // may replace this.view
    this.view.setInt8(o, v);
  }
  u16(v: number): void {
    const o = this.reserve(2); // may replace this.view
    this.view.setUint16(o, v, true);
  }
  i16(v: number): void {
    const o = this.reserve(2); // may replace this.view
    this.view.setInt16(o, v, true);
  }
  u32(v: number): void {
    const o = this.reserve(4); // may replace this.view
    this.view.setUint32(o, v, true);
  }
  i32(v: number): void {
    const o = this.reserve(4); // may replace this.view
    this.view.setInt32(o, v, true);
  }
  f32(v: number): void {
    const o = this.reserve(4); // may replace this.view
    this.view.setFloat32(o, v, true);
  }
  f64(v: number): void {
    const o = this.reserve(8); // may replace this.view
    this.view.setFloat64(o, v, true);
  }
  u64(v: bigint): void {
    const o = this.reserve(8); // may replace this.view
    this.view.setBigUint64(o, v, true);
  }
  i64(v: bigint): void {
    const o = this.reserve(8); // may replace this.view
    this.view.setBigInt64(o, v, true);
  }
  bytes(b: Uint8Array): void {
    const o = this.reserve(b.byteLength); // may replace this.buf, so reserve first
    this.buf.set(b, o);
  }
  str(s: string): void {
    const b = utf8.encode(s);
    this.u64(BigInt(b.byteLength));
    this.bytes(b);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad); // fresh capacity is zero-filled
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function checkInt(v: GgufValue, lo: number, hi: number, key: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new GgufInvalidError(`metadata ${key}: ${String(v)} is not an integer in [${lo}, ${hi}]`);
  }
  return v;
}

function writeScalar(w: ByteWriter, type: GgufValueType, v: GgufValue, key: string): void {
  switch (type) {
    case GgufValueType.UINT8:
      return w.u8(checkInt(v, 0, 0xff, key));
    case GgufValueType.INT8:
      return w.i8(checkInt(v, -0x80, 0x7f, key));
    case GgufValueType.UINT16:
      return w.u16(checkInt(v, 0, 0xffff, key));
    case GgufValueType.INT16:
      return w.i16(checkInt(v, -0x8000, 0x7fff, key));
    case GgufValueType.UINT32:
      return w.u32(checkInt(v, 0, 0xffffffff, key));
    case GgufValueType.INT32:
      return w.i32(checkInt(v, -0x80000000, 0x7fffffff, key));
    case GgufValueType.FLOAT32:
    case GgufValueType.FLOAT64:
      if (typeof v !== 'number') throw new GgufInvalidError(`metadata ${key}: expected a number`);
      return type === GgufValueType.FLOAT32 ? w.f32(v) : w.f64(v);
    case GgufValueType.BOOL:
      if (typeof v !== 'boolean') throw new GgufInvalidError(`metadata ${key}: expected a boolean`);
      return w.u8(v ? 1 : 0);
    case GgufValueType.STRING:
      if (typeof v !== 'string') throw new GgufInvalidError(`metadata ${key}: expected a string`);
      return w.str(v);
    case GgufValueType.UINT64:
    case GgufValueType.INT64: {
      const b = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : null;
      if (b === null) throw new GgufInvalidError(`metadata ${key}: expected a 64-bit integer`);
      const ok =
        type === GgufValueType.UINT64 ? b >= 0n && b < 1n << 64n : b >= -(1n << 63n) && b < 1n << 63n;
      if (!ok) throw new GgufInvalidError(`metadata ${key}: ${b} is out of range`);
      return type === GgufValueType.UINT64 ? w.u64(b) : w.i64(b);
    }
    case GgufValueType.ARRAY:
      throw new GgufInvalidError(`metadata ${key}: nested array needs an element type`);
  }
}

function writeArray(w: ByteWriter, elemType: GgufValueType, value: GgufValue, key: string): void {
  if (typeof value !== 'object' || value === null || !('length' in value)) {
    throw new GgufInvalidError(`metadata ${key}: expected an array`);
  }
  w.u32(elemType);
  w.u64(BigInt(value.length));
  if (elemType === GgufValueType.ARRAY) {
    // Nested arrays carry no element type in our data model: infer it from each inner array.
    for (let i = 0; i < value.length; i++) {
      const inner = (value as GgufArray[])[i]!;
      writeArray(w, inferArrayType(inner, key), inner, `${key}[${i}]`);
    }
    return;
  }
  for (let i = 0; i < value.length; i++) writeScalar(w, elemType, (value as ArrayLike<GgufValue>)[i]!, key);
}

/** The GGUF element type that a reader would have produced `a` from. */
function inferArrayType(a: GgufArray, key: string): GgufValueType {
  if (a instanceof Uint8Array) return GgufValueType.UINT8;
  if (a instanceof Int8Array) return GgufValueType.INT8;
  if (a instanceof Uint16Array) return GgufValueType.UINT16;
  if (a instanceof Int16Array) return GgufValueType.INT16;
  if (a instanceof Uint32Array) return GgufValueType.UINT32;
  if (a instanceof Int32Array) return GgufValueType.INT32;
  if (a instanceof Float32Array) return GgufValueType.FLOAT32;
  if (a instanceof Float64Array) return GgufValueType.FLOAT64;
  if (a instanceof BigUint64Array) return GgufValueType.UINT64;
  if (a instanceof BigInt64Array) return GgufValueType.INT64;
  const first = a[0];
  if (a.length === 0 || typeof first === 'string') return GgufValueType.STRING;
  if (typeof first === 'boolean') return GgufValueType.BOOL;
  if (Array.isArray(first) || ArrayBuffer.isView(first)) return GgufValueType.ARRAY;
  throw new GgufInvalidError(`metadata ${key}: cannot infer the element type of a nested array`);
}

/**
 * Serializes a GGUF v3 file.
 * @throws {GgufInvalidError} for values that do not fit their declared types, duplicate names, a
 *   bad alignment, or tensor data whose length does not match its shape and type.
 */
export function writeGguf(input: GgufWriteInput): Uint8Array {
  const metadata = new Map<string, GgufKv>();
  for (const [k, v] of input.metadata) {
    if (metadata.has(k)) throw new GgufInvalidError(`duplicate metadata key ${k}`);
    metadata.set(k, v);
  }
  const declared = metadata.get('general.alignment');
  const alignment =
    input.alignment ?? (typeof declared?.value === 'number' ? declared.value : GGUF_DEFAULT_ALIGNMENT);
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new GgufInvalidError(`alignment ${alignment} is not a power of 2`);
  }
  if (alignment !== GGUF_DEFAULT_ALIGNMENT || declared) {
    metadata.set('general.alignment', { type: GgufValueType.UINT32, value: alignment });
  }

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(BigInt(input.tensors.length));
  w.u64(BigInt(metadata.size));
  for (const [key, entry] of metadata) {
    w.str(key);
    w.u32(entry.type);
    if (entry.type === GgufValueType.ARRAY) {
      const elem = entry.arrayType ?? inferArrayType(entry.value as GgufArray, key);
      writeArray(w, elem, entry.value, key);
    } else {
      writeScalar(w, entry.type, entry.value, key);
    }
  }

  const names = new Set<string>();
  let rel = 0;
  for (const t of input.tensors) {
    if (names.has(t.name)) throw new GgufInvalidError(`duplicate tensor name ${t.name}`);
    names.add(t.name);
    if (t.dims.length === 0 || t.dims.length > GGML_MAX_DIMS) {
      throw new GgufInvalidError(`tensor ${t.name} has ${t.dims.length} dimensions`);
    }
    const elements = t.dims.reduce((a, b) => a * b, 1);
    const row = t.dims[0]!;
    const tr = ggmlTypeTraits(t.type);
    if (row % tr.blockSize !== 0) {
      throw new GgufInvalidError(`tensor ${t.name}: row of ${row} is not a multiple of ${tr.blockSize}`);
    }
    const expected = ggmlByteLength(t.type, elements);
    if (t.data.byteLength !== expected) {
      throw new GgufInvalidError(
        `tensor ${t.name} has ${t.data.byteLength} bytes, its shape needs ${expected}`,
      );
    }
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(BigInt(d));
    w.u32(t.type);
    w.u64(BigInt(rel));
    rel += Math.ceil(expected / alignment) * alignment;
  }
  w.padTo(alignment);
  for (const t of input.tensors) {
    w.bytes(t.data);
    w.padTo(alignment);
  }
  return w.result();
}
