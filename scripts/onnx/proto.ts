/**
 * A minimal protobuf writer for the ONNX messages Dure exports (onnx/onnx.proto, proto3 wire
 * format). Messages are kept as lists of byte chunks so a 300 MB weight is never copied into a
 * single buffer: nesting only prepends a tag and a length.
 */

/** Wire types (protobuf encoding spec). */
const VARINT = 0;
const FIXED32 = 5;
const LEN = 2;

/** An encoded message: its chunks and total length. */
export class Msg {
  readonly parts: Uint8Array[] = [];
  length = 0;

  #push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  #varint(v: number | bigint): void {
    // Negative int64 values take ten bytes, two's complement (protobuf encoding spec).
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.#push(Uint8Array.from(out));
  }

  #tag(field: number, wire: number): void {
    this.#varint((field << 3) | wire);
  }

  int(field: number, v: number | bigint): this {
    this.#tag(field, VARINT);
    this.#varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.#tag(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.#push(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.#tag(field, LEN);
    this.#varint(b.length);
    this.#push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  msg(field: number, m: Msg): this {
    this.#tag(field, LEN);
    this.#varint(m.length);
    for (const p of m.parts) this.#push(p);
    return this;
  }

  /** A packed repeated varint field (proto3 default for scalar repeated fields). */
  packedInts(field: number, values: readonly number[]): this {
    const inner = new Msg();
    for (const v of values) inner.#varint(v);
    return this.msg(field, inner);
  }

  /** The whole message as one buffer (only for small messages and tests). */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values used here. */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export type AttrValue =
  number | string | readonly number[] | { float: number } | { floats: readonly number[] };

/** TensorProto with raw little-endian data. */
export function tensorProto(name: string, dims: readonly number[], type: DataTypeCode, raw: Uint8Array): Msg {
  return new Msg().packedInts(1, dims).int(2, type).string(8, name).bytes(9, raw);
}

/**
 * AttributeProto. Integers (and integer lists) are INT/INTS; wrap floats as `{ float }` /
 * `{ floats }` because a JS number cannot say which it is.
 */
export function attributeProto(name: string, v: AttrValue): Msg {
  const m = new Msg().string(1, name);
  if (typeof v === 'number') return m.int(3, v).int(20, AttrType.INT);
  if (typeof v === 'string') return m.string(4, v).int(20, AttrType.STRING);
  if ('float' in v) return m.float(2, v.float).int(20, AttrType.FLOAT);
  if ('floats' in v) {
    for (const f of v.floats) m.float(7, f);
    return m.int(20, AttrType.FLOATS);
  }
  return m.packedInts(8, v).int(20, AttrType.INTS);
}

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name: string;
  domain?: string;
  attrs?: Readonly<Record<string, AttrValue>>;
}

export function nodeProto(n: NodeSpec): Msg {
  const m = new Msg();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  m.string(3, n.name).string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) m.msg(5, attributeProto(k, v));
  if (n.domain) m.string(7, n.domain);
  return m;
}

/** ValueInfoProto of a tensor; a string dimension is symbolic (dim_param). */
export function valueInfoProto(name: string, type: DataTypeCode, shape: readonly (number | string)[]): Msg {
  const dims = new Msg();
  for (const d of shape) dims.msg(1, typeof d === 'number' ? new Msg().int(1, d) : new Msg().string(2, d));
  const tensorType = new Msg().int(1, type).msg(2, dims);
  return new Msg().string(1, name).msg(2, new Msg().msg(1, tensorType));
}

export interface GraphSpec {
  name: string;
  nodes: readonly Msg[];
  initializers: readonly Msg[];
  inputs: readonly Msg[];
  outputs: readonly Msg[];
}

export function graphProto(g: GraphSpec): Msg {
  const m = new Msg();
  for (const n of g.nodes) m.msg(1, n);
  m.string(2, g.name);
  for (const t of g.initializers) m.msg(5, t);
  for (const i of g.inputs) m.msg(11, i);
  for (const o of g.outputs) m.msg(12, o);
  return m;
}

/** ModelProto with the given operator sets (`''` is the default ONNX domain). */
export function modelProto(graph: Msg, opsets: Readonly<Record<string, number>>, irVersion = 8): Msg {
  const m = new Msg().int(1, irVersion).string(2, 'dure').string(3, '0.1.0');
  for (const [domain, version] of Object.entries(opsets)) {
    const o = new Msg();
    if (domain) o.string(1, domain);
    m.msg(8, o.int(2, version));
  }
  return m.msg(7, graph);
}
