/**
 * CPU reference dequantizers, value-exact with llama.cpp's `dequantize_row_*` (ggml-quants.c):
 * each product and difference is rounded to f32 where C rounds it, so tests can compare GPU kernels
 * and llama.cpp against these bit for bit.
 */
import { GgufTruncatedError, GgufUnknownTypeError } from '../errors.ts';
import { GgmlType } from '../types.ts';
import { bf16BitsToF32, f16BitsToF32 } from './half.ts';
import { ggmlByteLength, ggmlTypeTraits } from './traits.ts';

const fr = Math.fround;

/**
 * Dequantizes `nElements` values of ggml type `type` from `bytes` (which may be longer).
 * @throws {GgufUnknownTypeError} for a type without a CPU dequantizer.
 * @throws {GgufInvalidError} when `nElements` is not a whole number of blocks (from ggmlByteLength).
 * @throws {GgufTruncatedError} when `bytes` is shorter than the blocks it must hold.
 */
export function dequantize(type: GgmlType, bytes: Uint8Array, nElements: number): Float32Array {
  const tr = ggmlTypeTraits(type);
  if (!tr.dequantizable) throw new GgufUnknownTypeError(`no CPU dequantizer for ${tr.name}`);
  const need = ggmlByteLength(type, nElements);
  if (bytes.byteLength < need) {
    throw new GgufTruncatedError(
      `${nElements} ${tr.name} elements need ${need} bytes, got ${bytes.byteLength}`,
    );
  }
  const out = new Float32Array(nElements);
  const view = new DataView(bytes.buffer, bytes.byteOffset, need);
  const nb = nElements / tr.blockSize;
  switch (type) {
    case GgmlType.F32:
      for (let i = 0; i < nElements; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case GgmlType.F16:
      for (let i = 0; i < nElements; i++) out[i] = f16BitsToF32(view.getUint16(2 * i, true));
      break;
    case GgmlType.BF16:
      for (let i = 0; i < nElements; i++) out[i] = bf16BitsToF32(view.getUint16(2 * i, true));
      break;
    case GgmlType.Q4_0:
      for (let i = 0; i < nb; i++) dequantQ4_0(bytes, view, i * 18, out, i * 32);
      break;
    case GgmlType.Q4_1:
      for (let i = 0; i < nb; i++) dequantQ4_1(bytes, view, i * 20, out, i * 32);
      break;
    case GgmlType.Q5_0:
      for (let i = 0; i < nb; i++) dequantQ5_0(bytes, view, i * 22, out, i * 32);
      break;
    case GgmlType.Q5_1:
      for (let i = 0; i < nb; i++) dequantQ5_1(bytes, view, i * 24, out, i * 32);
      break;
    case GgmlType.Q8_0:
      for (let i = 0; i < nb; i++) dequantQ8_0(bytes, view, i * 34, out, i * 32);
      break;
    case GgmlType.Q2_K:
      for (let i = 0; i < nb; i++) dequantQ2_K(bytes, view, i * 84, out, i * 256);
      break;
    case GgmlType.Q3_K:
      for (let i = 0; i < nb; i++) dequantQ3_K(bytes, view, i * 110, out, i * 256);
      break;
    case GgmlType.Q4_K:
      for (let i = 0; i < nb; i++) dequantQ4_K(bytes, view, i * 144, out, i * 256);
      break;
    case GgmlType.Q5_K:
      for (let i = 0; i < nb; i++) dequantQ5_K(bytes, view, i * 176, out, i * 256);
      break;
    case GgmlType.Q6_K:
      for (let i = 0; i < nb; i++) dequantQ6_K(bytes, view, i * 210, out, i * 256);
      break;
    case GgmlType.IQ4_NL:
      for (let i = 0; i < nb; i++) dequantIQ4_NL(bytes, view, i * 18, out, i * 32);
      break;
    case GgmlType.IQ4_XS:
      for (let i = 0; i < nb; i++) dequantIQ4_XS(bytes, view, i * 136, out, i * 256);
      break;
    default:
      throw new GgufUnknownTypeError(`no CPU dequantizer for ${tr.name}`);
  }
  return out;
}

// Each block decoder reads the block at byte `o` of `q` (`v` views the same bytes) and writes its
// 32 or 256 values to `y` from index `yo`.
function dequantQ4_0(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o, true));
  for (let j = 0; j < 16; j++) {
    const b = q[o + 2 + j]!;
    y[yo + j] = ((b & 0x0f) - 8) * d;
    y[yo + j + 16] = ((b >> 4) - 8) * d;
  }
}

function dequantQ4_1(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o, true));
  const m = f16BitsToF32(v.getUint16(o + 2, true));
  for (let j = 0; j < 16; j++) {
    const b = q[o + 4 + j]!;
    y[yo + j] = fr((b & 0x0f) * d) + m;
    y[yo + j + 16] = fr((b >> 4) * d) + m;
  }
}

function dequantQ5_0(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o, true));
  const qh = v.getUint32(o + 2, true);
  for (let j = 0; j < 16; j++) {
    const b = q[o + 6 + j]!;
    const h0 = ((qh >>> j) << 4) & 0x10;
    const h1 = (qh >>> (j + 12)) & 0x10;
    y[yo + j] = (((b & 0x0f) | h0) - 16) * d;
    y[yo + j + 16] = (((b >> 4) | h1) - 16) * d;
  }
}

function dequantQ5_1(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o, true));
  const m = f16BitsToF32(v.getUint16(o + 2, true));
  const qh = v.getUint32(o + 4, true);
  for (let j = 0; j < 16; j++) {
    const b = q[o + 8 + j]!;
    const h0 = ((qh >>> j) << 4) & 0x10;
    const h1 = (qh >>> (j + 12)) & 0x10;
    y[yo + j] = fr(((b & 0x0f) | h0) * d) + m;
    y[yo + j + 16] = fr(((b >> 4) | h1) * d) + m;
  }
}

function dequantQ8_0(_q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o, true));
  for (let j = 0; j < 32; j++) y[yo + j] = v.getInt8(o + 2 + j) * d;
}

/**
 * Q2_K: sixteen 16-element sub-blocks, each with a 4-bit scale (low nibble of `scales[j]`) and
 * 4-bit min (high nibble) relative to the f16 `d` and `dmin` at the end of the block. Element `e`
 * is the 2-bit field `(e % 128) / 32` of byte `qs[e / 128 · 32 + e % 32]`.
 */
function dequantQ2_K(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o + 80, true));
  const dmin = f16BitsToF32(v.getUint16(o + 82, true));
  for (let e = 0; e < 256; e += 16) {
    const sc = q[o + (e >> 4)]!;
    const dl = fr(d * (sc & 0x0f));
    const ml = fr(dmin * (sc >> 4));
    const qs = o + 16 + ((e >> 7) << 5) + (e & 31);
    const shift = ((e & 127) >> 5) << 1;
    for (let l = 0; l < 16; l++) y[yo + e + l] = fr(dl * ((q[qs + l]! >> shift) & 3)) - ml;
  }
}

/** Q3_K's 6-bit scale of sub-block `j` (0..15), unpacked from the 12 `scales` bytes at `so`. */
export function q3KScale(j: number, s: Uint8Array, so: number): number {
  const low = j < 8 ? s[so + j]! & 0x0f : s[so + j - 8]! >> 4;
  const high = (s[so + 8 + (j & 3)]! >> (2 * (j >> 2))) & 3;
  return low | (high << 4);
}

/**
 * Q3_K: sixteen 16-element sub-blocks with signed 6-bit scales (stored + 32) relative to an f16
 * `d`. Element `e` takes its low two bits from the Q2_K-style `qs` position and its third bit from
 * bit `e / 32` of `hmask[e % 32]`; a clear bit means "minus 4".
 */
function dequantQ3_K(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o + 108, true));
  for (let e = 0; e < 256; e += 16) {
    const dl = fr(d * (q3KScale(e >> 4, q, o + 96) - 32));
    const qs = o + 32 + ((e >> 7) << 5) + (e & 31);
    const hm = o + (e & 31);
    const shift = ((e & 127) >> 5) << 1;
    const bit = 1 << (e >> 5);
    for (let l = 0; l < 16; l++) {
      const lo = (q[qs + l]! >> shift) & 3;
      y[yo + e + l] = fr(dl * (lo - (q[hm + l]! & bit ? 0 : 4)));
    }
  }
}

/** The 16 non-uniform levels of IQ4_NL and IQ4_XS (ggml's `kvalues_iq4nl`). */
export const IQ4_NL_VALUES: readonly number[] = [
  -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/** IQ4_NL: f16 `d`, then 16 bytes whose low nibbles index elements 0..15 and high nibbles 16..31. */
function dequantIQ4_NL(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o, true));
  for (let j = 0; j < 16; j++) {
    const b = q[o + 2 + j]!;
    y[yo + j] = d * IQ4_NL_VALUES[b & 0x0f]!;
    y[yo + j + 16] = d * IQ4_NL_VALUES[b >> 4]!;
  }
}

/**
 * IQ4_XS: f16 `d`, u16 `scales_h`, 4 bytes `scales_l`, 128 bytes of IQ4_NL-style nibbles; each of
 * the eight 32-element sub-blocks has a 6-bit scale (stored + 32): low 4 bits from `scales_l`, high
 * 2 from `scales_h`.
 */
function dequantIQ4_XS(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o, true));
  const scalesH = v.getUint16(o + 2, true);
  for (let ib = 0; ib < 8; ib++) {
    const ls = ((q[o + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 0x0f) | (((scalesH >> (2 * ib)) & 3) << 4);
    const dl = fr(d * (ls - 32));
    const qs = o + 8 + 16 * ib;
    for (let j = 0; j < 16; j++) {
      const b = q[qs + j]!;
      y[yo + 32 * ib + j] = dl * IQ4_NL_VALUES[b & 0x0f]!;
      y[yo + 32 * ib + j + 16] = dl * IQ4_NL_VALUES[b >> 4]!;
    }
  }
}

/** The 6-bit scale and min of sub-block `j` packed in the 12 `scales` bytes (ggml's get_scale_min_k4). */
export function scaleMinK4(j: number, s: Uint8Array, so: number): [number, number] {
  if (j < 4) return [s[so + j]! & 63, s[so + j + 4]! & 63];
  const sc = (s[so + j + 4]! & 0x0f) | ((s[so + j - 4]! >> 6) << 4);
  const m = (s[so + j + 4]! >> 4) | ((s[so + j]! >> 6) << 4);
  return [sc, m];
}

function dequantQ4_K(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o, true));
  const dmin = f16BitsToF32(v.getUint16(o + 2, true));
  const scales = o + 4;
  let qs = o + 16;
  let is = 0;
  for (let j = 0; j < 256; j += 64) {
    const [sc1, m1i] = scaleMinK4(is, q, scales);
    const [sc2, m2i] = scaleMinK4(is + 1, q, scales);
    const d1 = fr(d * sc1);
    const m1 = fr(dmin * m1i);
    const d2 = fr(d * sc2);
    const m2 = fr(dmin * m2i);
    for (let l = 0; l < 32; l++) y[yo + j + l] = fr(d1 * (q[qs + l]! & 0x0f)) - m1;
    for (let l = 0; l < 32; l++) y[yo + j + 32 + l] = fr(d2 * (q[qs + l]! >> 4)) - m2;
    qs += 32;
    is += 2;
  }
}

function dequantQ5_K(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o, true));
  const dmin = f16BitsToF32(v.getUint16(o + 2, true));
  const scales = o + 4;
  const qh = o + 16;
  let ql = o + 48;
  let is = 0;
  let u1 = 1;
  let u2 = 2;
  for (let j = 0; j < 256; j += 64) {
    const [sc1, m1i] = scaleMinK4(is, q, scales);
    const [sc2, m2i] = scaleMinK4(is + 1, q, scales);
    const d1 = fr(d * sc1);
    const m1 = fr(dmin * m1i);
    const d2 = fr(d * sc2);
    const m2 = fr(dmin * m2i);
    for (let l = 0; l < 32; l++) {
      const h = q[qh + l]! & u1 ? 16 : 0;
      y[yo + j + l] = fr(d1 * ((q[ql + l]! & 0x0f) + h)) - m1;
    }
    for (let l = 0; l < 32; l++) {
      const h = q[qh + l]! & u2 ? 16 : 0;
      y[yo + j + 32 + l] = fr(d2 * ((q[ql + l]! >> 4) + h)) - m2;
    }
    ql += 32;
    is += 2;
    u1 <<= 2;
    u2 <<= 2;
  }
}

function dequantQ6_K(q: Uint8Array, v: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16BitsToF32(v.getUint16(o + 208, true));
  let ql = o;
  let qh = o + 128;
  let sc = o + 192;
  for (let n = 0; n < 256; n += 128) {
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = q[qh + l]!;
      const q1 = ((q[ql + l]! & 0x0f) | ((h & 3) << 4)) - 32;
      const q2 = ((q[ql + l + 32]! & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
      const q3 = ((q[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
      const q4 = ((q[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
      y[yo + n + l] = fr(d * v.getInt8(sc + is)) * q1;
      y[yo + n + l + 32] = fr(d * v.getInt8(sc + is + 2)) * q2;
      y[yo + n + l + 64] = fr(d * v.getInt8(sc + is + 4)) * q3;
      y[yo + n + l + 96] = fr(d * v.getInt8(sc + is + 6)) * q4;
    }
    ql += 64;
    qh += 32;
    sc += 8;
  }
}
