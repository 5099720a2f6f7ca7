/**
 * GGUF reader (versions 2 and 3, little-endian), after the format in llama.cpp's gguf.cpp and
 * docs/gguf.md. Only the header (metadata and tensor infos) is read, in growing chunks; tensor data
 * stays in the source until `readTensorBytes`. Every count and length is checked against what the
 * rest of the file could hold before anything is allocated, so a hostile file cannot make us
 * allocate more than it is long.
 */
import {
  GgufBadMagicError,
  GgufInvalidError,
  GgufLimitError,
  GgufTensorOutOfBoundsError,
  GgufTruncatedError,
  GgufUnknownTypeError,
  GgufUnsupportedVersionError,
} from './errors.ts';
import { ggmlTypeTraits } from './quant/traits.ts';
import {
  GgufValueType,
  type ByteSource,
  type GgufArray,
  type GgufFile,
  type GgufKv,
  type GgufTensorInfo,
  type GgufValue,
} from './types.ts';

/** `GGUF` read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml tensors have at most four dimensions (GGML_MAX_DIMS). */
export const GGML_MAX_DIMS = 4;

export interface ReadGgufOptions {
  /** Largest header (metadata + tensor infos) accepted, in bytes. Default 512 MiB. */
  maxHeaderBytes?: number;
  /** First read size; later reads double. Default 1 MiB. */
  initialChunkBytes?: number;
  /** Deepest nesting of arrays in arrays. Default 8. */
  maxArrayDepth?: number;
}

/** Smallest encoding of a value of each type, used to bound counts before allocating. */
function minEncodedSize(type: GgufValueType): number {
  switch (type) {
    case GgufValueType.UINT8:
    case GgufValueType.INT8:
    case GgufValueType.BOOL:
      return 1;
    case GgufValueType.UINT16:
    case GgufValueType.INT16:
      return 2;
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
    case GgufValueType.FLOAT32:
      return 4;
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
    case GgufValueType.FLOAT64:
    case GgufValueType.STRING: // u64 length
      return 8;
    case GgufValueType.ARRAY: // u32 type + u64 count
      return 12;
  }
}

function isValueType(t: number): t is GgufValueType {
  return Number.isInteger(t) && t >= 0 && t <= 12;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
// ignoreBOM: a leading U+FEFF is content (Gemma's vocabulary has "\uFEFF//" beside "//"), not a byte-order mark.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * A forward-only cursor over the header. `need(n)` makes the next `n` bytes available (reading a
 * bigger chunk when they are not), after which the synchronous getters read them.
 */
class HeaderCursor {
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  /** Absolute file offset of buf[0]. */
  private base = 0;
  /** Absolute read position. */
  pos = 0;
  private chunk: number;

  constructor(
    private readonly source: ByteSource,
    initialChunk: number,
    readonly maxHeader: number,
  ) {
    this.chunk = initialChunk;
  }

  /** Bytes from the position to the end of the file. */
  get remaining(): number {
    return this.source.size - this.pos;
  }

  /** Ensures `n` bytes at the position are buffered; returns undefined when they already are. */
  need(n: number, what: string): Promise<void> | undefined {
    if (this.pos + n <= this.base + this.buf.byteLength) return undefined;
    return this.fill(n, what);
  }

  private async fill(n: number, what: string): Promise<void> {
    if (n > this.remaining) {
      throw new GgufTruncatedError(
        `file ends at byte ${this.source.size} while reading ${what} (${n} bytes at offset ${this.pos})`,
      );
    }
    if (this.pos + n > this.maxHeader) {
      throw new GgufLimitError(`GGUF header is larger than the limit of ${this.maxHeader} bytes`);
    }
    const len = Math.min(this.remaining, Math.max(n, this.chunk));
    this.buf = await this.source.read(this.pos, len);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.base = this.pos;
    this.chunk = Math.min(this.chunk * 2, 64 << 20);
  }

  private at(n: number): number {
    const o = this.pos - this.base;
    this.pos += n;
    return o;
  }

  u8(): number {
    return this.view.getUint8(this.at(1));
  }
  i8(): number {
    return this.view.getInt8(this.at(1));
  }
  u16(): number {
    return this.view.getUint16(this.at(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.at(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.at(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.at(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.at(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.at(8), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.at(8), true);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.at(8), true);
  }
  /** The next `n` bytes as a fresh, aligned copy. */
  copy(n: number): Uint8Array {
    const o = this.at(n);
    return this.buf.slice(o, o + n);
  }
  utf8(n: number): string {
    const o = this.at(n);
    return utf8.decode(this.buf.subarray(o, o + n));
  }
}

/**
 * A u64 count or length of items of `unit` bytes each, checked before anything is allocated: more
 * than the header limit could ever hold is absurd (GgufLimitError); more than the rest of the file
 * holds means the file was cut short (GgufTruncatedError).
 */
function boundedCount(v: bigint, unit: number, c: HeaderCursor, what: string): number {
  if (v * BigInt(unit) > BigInt(c.maxHeader)) {
    throw new GgufLimitError(
      `${what} of ${v} is beyond any plausible GGUF header (limit ${c.maxHeader} bytes)`,
    );
  }
  if (v * BigInt(unit) > BigInt(c.remaining)) {
    throw new GgufTruncatedError(`${what} of ${v} runs past the end of the file`);
  }
  return Number(v);
}

/** A tensor dimension as a number, refused when it cannot be a safe integer. */
function boundedDim(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufLimitError(`${what} of ${v} is absurd`);
  return Number(v);
}

class Parser {
  constructor(
    private readonly c: HeaderCursor,
    private readonly maxDepth: number,
  ) {}

  /**
   * A u64-length-prefixed UTF-8 string. Synchronous when the bytes are buffered, so a 150k-entry
   * vocabulary does not cost 150k promises.
   */
  string(what: string): string | Promise<string> {
    const p = this.c.need(8, what);
    return p ? p.then(() => this.stringBody(what)) : this.stringBody(what);
  }

  private stringBody(what: string): string | Promise<string> {
    const len = boundedCount(this.c.u64(), 1, this.c, `length of ${what}`);
    const q = this.c.need(len, what);
    return q ? q.then(() => this.c.utf8(len)) : this.c.utf8(len);
  }

  async value(type: GgufValueType, key: string, depth: number): Promise<GgufValue> {
    if (type === GgufValueType.STRING) return this.string(`string value of ${key}`);
    if (type === GgufValueType.ARRAY) return (await this.array(key, depth)).value;
    const p = this.c.need(minEncodedSize(type), `value of ${key}`);
    if (p) await p;
    return this.scalar(type);
  }

  private scalar(type: GgufValueType): number | bigint | boolean {
    const c = this.c;
    switch (type) {
      case GgufValueType.UINT8:
        return c.u8();
      case GgufValueType.INT8:
        return c.i8();
      case GgufValueType.UINT16:
        return c.u16();
      case GgufValueType.INT16:
        return c.i16();
      case GgufValueType.UINT32:
        return c.u32();
      case GgufValueType.INT32:
        return c.i32();
      case GgufValueType.FLOAT32:
        return c.f32();
      case GgufValueType.BOOL:
        return c.u8() !== 0;
      case GgufValueType.UINT64:
        return c.u64();
      case GgufValueType.INT64:
        return c.i64();
      case GgufValueType.FLOAT64:
        return c.f64();
      default:
        throw new GgufUnknownTypeError(`value type ${type} is not a scalar`);
    }
  }

  async array(key: string, depth: number): Promise<{ arrayType: GgufValueType; value: GgufArray }> {
    if (depth >= this.maxDepth)
      throw new GgufLimitError(`arrays nested deeper than ${this.maxDepth} in ${key}`);
    const p = this.c.need(12, `array header of ${key}`);
    if (p) await p;
    const t = this.c.u32();
    if (!isValueType(t)) throw new GgufUnknownTypeError(`array ${key} has unknown element type ${t}`);
    const elem = minEncodedSize(t);
    const n = boundedCount(this.c.u64(), elem, this.c, `element count of array ${key}`);
    return { arrayType: t, value: await this.arrayBody(t, n, key, depth) };
  }

  private async arrayBody(t: GgufValueType, n: number, key: string, depth: number): Promise<GgufArray> {
    if (t === GgufValueType.STRING) {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const s = this.string(`element ${i} of ${key}`);
        out.push(typeof s === 'string' ? s : await s);
      }
      return out;
    }
    if (t === GgufValueType.ARRAY) {
      const out: GgufArray[] = [];
      for (let i = 0; i < n; i++) out.push((await this.array(`${key}[${i}]`, depth + 1)).value);
      return out;
    }
    const size = minEncodedSize(t);
    const p = this.c.need(n * size, `array ${key}`);
    if (p) await p;
    if (t === GgufValueType.BOOL) {
      const out: boolean[] = [];
      for (let i = 0; i < n; i++) out.push(this.c.u8() !== 0);
      return out;
    }
    if (LITTLE_ENDIAN_HOST) {
      const buf = this.c.copy(n * size).buffer;
      switch (t) {
        case GgufValueType.UINT8:
          return new Uint8Array(buf);
        case GgufValueType.INT8:
          return new Int8Array(buf);
        case GgufValueType.UINT16:
          return new Uint16Array(buf);
        case GgufValueType.INT16:
          return new Int16Array(buf);
        case GgufValueType.UINT32:
          return new Uint32Array(buf);
        case GgufValueType.INT32:
          return new Int32Array(buf);
        case GgufValueType.FLOAT32:
          return new Float32Array(buf);
        case GgufValueType.UINT64:
          return new BigUint64Array(buf);
        case GgufValueType.INT64:
          return new BigInt64Array(buf);
        case GgufValueType.FLOAT64:
          return new Float64Array(buf);
      }
    }
    return this.arrayBigEndianHost(t, n);
  }

  /** Element-wise decoding for the (theoretical) big-endian host. */
  private arrayBigEndianHost(t: GgufValueType, n: number): GgufArray {
    const fill = <A extends { [i: number]: number | bigint }>(a: A, f: () => number | bigint): A => {
      for (let i = 0; i < n; i++) a[i] = f();
      return a;
    };
    const c = this.c;
    switch (t) {
      case GgufValueType.UINT8:
        return fill(new Uint8Array(n), () => c.u8());
      case GgufValueType.INT8:
        return fill(new Int8Array(n), () => c.i8());
      case GgufValueType.UINT16:
        return fill(new Uint16Array(n), () => c.u16());
      case GgufValueType.INT16:
        return fill(new Int16Array(n), () => c.i16());
      case GgufValueType.UINT32:
        return fill(new Uint32Array(n), () => c.u32());
      case GgufValueType.INT32:
        return fill(new Int32Array(n), () => c.i32());
      case GgufValueType.FLOAT32:
        return fill(new Float32Array(n), () => c.f32());
      case GgufValueType.UINT64:
        return fill(new BigUint64Array(n), () => c.u64());
      case GgufValueType.INT64:
        return fill(new BigInt64Array(n), () => c.i64());
      default:
        return fill(new Float64Array(n), () => c.f64());
    }
  }
}

/**
 * Reads the header of a GGUF file: version, metadata, tensor infos, alignment and data offset.
 * Tensor data is not read.
 * @throws {GgufBadMagicError} when the file does not start with `GGUF`.
 * @throws {GgufUnsupportedVersionError} for versions other than 2 and 3.
 * @throws {GgufTruncatedError} when the file ends inside the header.
 * @throws {GgufLimitError} for counts or lengths the file cannot hold, or a header over the limit.
 * @throws {GgufUnknownTypeError} for unknown metadata value types or ggml tensor types.
 * @throws {GgufInvalidError} for duplicate keys or tensor names, a bad alignment or a row length
 *   that is not a whole number of blocks.
 * @throws {GgufTensorOutOfBoundsError} when a tensor's data is misaligned or outside the file.
 */
export async function readGguf(source: ByteSource, opts: ReadGgufOptions = {}): Promise<GgufFile> {
  const c = new HeaderCursor(source, opts.initialChunkBytes ?? 1 << 20, opts.maxHeaderBytes ?? 512 << 20);
  const parser = new Parser(c, opts.maxArrayDepth ?? 8);

  if (source.size < 4) throw new GgufTruncatedError(`file of ${source.size} bytes is too short for GGUF`);
  await c.need(4, 'magic');
  const magic = c.u32();
  if (magic !== GGUF_MAGIC) {
    throw new GgufBadMagicError(`not a GGUF file (magic 0x${magic.toString(16).padStart(8, '0')})`);
  }
  await c.need(4, 'version');
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    const hint = (version & 0xffff) === 0 ? ' (big-endian GGUF files are not supported)' : '';
    throw new GgufUnsupportedVersionError(`GGUF version ${version} is not supported${hint}; use 2 or 3`);
  }
  await c.need(16, 'tensor and metadata counts');
  // Each tensor info takes at least 24 bytes (name length, n_dims, type, offset); each KV at least 13.
  const nTensors = boundedCount(c.u64(), 24, c, 'tensor count');
  const nKv = boundedCount(c.u64(), 13, c, 'metadata count');

  const metadata = new Map<string, GgufKv>();
  for (let i = 0; i < nKv; i++) {
    const key = await parser.string(`key of metadata entry ${i}`);
    if (metadata.has(key)) throw new GgufInvalidError(`duplicate metadata key ${key}`);
    await c.need(4, `type of ${key}`);
    const type = c.u32();
    if (!isValueType(type)) throw new GgufUnknownTypeError(`metadata ${key} has unknown value type ${type}`);
    if (type === GgufValueType.ARRAY) {
      const { arrayType, value } = await parser.array(key, 0);
      metadata.set(key, { type, arrayType, value });
    } else {
      metadata.set(key, { type, value: await parser.value(type, key, 0) });
    }
  }

  const alignment = readAlignment(metadata);

  const raw: { name: string; dims: number[]; type: number; rel: bigint }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = await parser.string(`name of tensor ${i}`);
    if (names.has(name)) throw new GgufInvalidError(`duplicate tensor name ${name}`);
    names.add(name);
    await c.need(4, `dimension count of ${name}`);
    const nDims = c.u32();
    if (nDims > GGML_MAX_DIMS) {
      throw new GgufLimitError(`tensor ${name} has ${nDims} dimensions; ggml allows ${GGML_MAX_DIMS}`);
    }
    await c.need(8 * nDims + 12, `shape of ${name}`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      dims.push(boundedDim(c.u64(), `dimension ${d} of tensor ${name}`));
    }
    const type = c.u32();
    const rel = c.u64();
    raw.push({ name, dims, type, rel });
  }

  // The data section starts at the next multiple of the alignment after the header.
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = raw.map((r) => tensorInfo(r, alignment, dataOffset, source.size));
  if (tensors.length > 0 && dataOffset > source.size) {
    throw new GgufTruncatedError(`data section at ${dataOffset} starts past the end of the file`);
  }
  return { version, alignment, metadata, tensors, dataOffset, source };
}

function readAlignment(metadata: ReadonlyMap<string, GgufKv>): number {
  const kv = metadata.get('general.alignment');
  if (!kv) return GGUF_DEFAULT_ALIGNMENT;
  if (kv.type !== GgufValueType.UINT32 || typeof kv.value !== 'number') {
    throw new GgufInvalidError('general.alignment must be a u32');
  }
  const a = kv.value;
  if (a === 0 || (a & (a - 1)) !== 0)
    throw new GgufInvalidError(`general.alignment ${a} is not a power of 2`);
  return a;
}

function tensorInfo(
  r: { name: string; dims: number[]; type: number; rel: bigint },
  alignment: number,
  dataOffset: number,
  fileSize: number,
): GgufTensorInfo {
  let tr;
  try {
    tr = ggmlTypeTraits(r.type);
  } catch {
    throw new GgufUnknownTypeError(`tensor ${r.name} has unknown ggml type ${r.type}`);
  }
  let elements = 1;
  for (const d of r.dims) {
    elements *= d;
    if (elements > Number.MAX_SAFE_INTEGER) {
      throw new GgufLimitError(`tensor ${r.name} has more elements than can be addressed`);
    }
  }
  const row = r.dims[0] ?? 1;
  if (row % tr.blockSize !== 0) {
    throw new GgufInvalidError(
      `tensor ${r.name}: row of ${row} ${tr.name} elements is not a multiple of the block size ${tr.blockSize}`,
    );
  }
  const byteLength = (elements / tr.blockSize) * tr.bytesPerBlock;
  if (r.rel % BigInt(alignment) !== 0n) {
    throw new GgufTensorOutOfBoundsError(`tensor ${r.name} offset ${r.rel} is not aligned to ${alignment}`);
  }
  if (r.rel > BigInt(fileSize) || dataOffset + Number(r.rel) + byteLength > fileSize) {
    throw new GgufTensorOutOfBoundsError(
      `tensor ${r.name} (${byteLength} bytes at data offset ${r.rel}) lies outside the ${fileSize}-byte file`,
    );
  }
  return {
    name: r.name,
    dims: r.dims,
    type: tr.type,
    offset: dataOffset + Number(r.rel),
    byteLength,
    elements,
  };
}

/**
 * The bytes of one tensor, read from the file's source (a view without copying for MemorySource).
 * @throws {GgufTensorOutOfBoundsError} when the tensor does not lie inside the source.
 */
export async function readTensorBytes(file: GgufFile, info: GgufTensorInfo): Promise<Uint8Array> {
  if (info.offset < file.dataOffset || info.offset + info.byteLength > file.source.size) {
    throw new GgufTensorOutOfBoundsError(`tensor ${info.name} lies outside the file`);
  }
  return file.source.read(info.offset, info.byteLength);
}
