/**
 * CPU quantizers following llama.cpp's reference `quantize_row_*_ref` (ggml-quants.c), which is
 * what `llama-quantize` uses without an importance matrix. Arithmetic is rounded to f32 wherever C
 * rounds it (`fr`), so the bytes match ggml's for the same input; written from the algorithm, not
 * translated line by line.
 */
import { GgufUnknownTypeError } from '../../engine/gguf/errors.ts';
import { GgmlType } from '../../engine/gguf/types.ts';
import { f32ToBf16Bits } from '../../engine/gguf/quant/half.ts';
import { ggmlByteLength, ggmlTypeTraits } from '../../engine/gguf/quant/traits.ts';
import { GROUP_MAX_EPS, makeQkx2, nearestInt, putF16, signedAbsMax } from './quant-math.ts';
import { quantIQ4_NL, quantIQ4_XS, quantQ2_K, quantQ3_K } from './quantize-low-bit.ts';

const fr = Math.fround;

/** C `roundf`: halves away from zero. */
function roundAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * Quantizes `values` (rounded to f32 first) to ggml type `type`.
 * @throws {GgufUnknownTypeError} for a type without a quantizer.
 * @throws {GgufInvalidError} when `values.length` is not a whole number of blocks.
 */
export function quantize(type: GgmlType, values: ArrayLike<number>): Uint8Array {
  const tr = ggmlTypeTraits(type);
  if (!tr.quantizable) throw new GgufUnknownTypeError(`no quantizer for ${tr.name}`);
  const n = values.length;
  const out = new Uint8Array(ggmlByteLength(type, n));
  const x = values instanceof Float32Array ? values : Float32Array.from(values);
  const nb = n / tr.blockSize;
  switch (type) {
    case GgmlType.F32: {
      const dv = new DataView(out.buffer);
      for (let i = 0; i < n; i++) dv.setFloat32(4 * i, x[i]!, true);
      break;
    }
    case GgmlType.F16:
      for (let i = 0; i < n; i++) putF16(out, 2 * i, x[i]!);
      break;
    case GgmlType.BF16:
      for (let i = 0; i < n; i++) {
        const b = f32ToBf16Bits(x[i]!);
        out[2 * i] = b & 0xff;
        out[2 * i + 1] = b >> 8;
      }
      break;
    case GgmlType.Q4_0:
      for (let i = 0; i < nb; i++) quantQ4_0(x, i * 32, out, i * 18);
      break;
    case GgmlType.Q4_1:
      for (let i = 0; i < nb; i++) quantQx_1(x, i * 32, out, i * 20, 4);
      break;
    case GgmlType.Q5_0:
      for (let i = 0; i < nb; i++) quantQ5_0(x, i * 32, out, i * 22);
      break;
    case GgmlType.Q5_1:
      for (let i = 0; i < nb; i++) quantQx_1(x, i * 32, out, i * 24, 5);
      break;
    case GgmlType.Q8_0:
      for (let i = 0; i < nb; i++) quantQ8_0(x, i * 32, out, i * 34);
      break;
    case GgmlType.Q2_K:
      for (let i = 0; i < nb; i++) quantQ2_K(x, i * 256, out, i * 84);
      break;
    case GgmlType.Q3_K:
      for (let i = 0; i < nb; i++) quantQ3_K(x, i * 256, out, i * 110);
      break;
    case GgmlType.Q4_K:
      for (let i = 0; i < nb; i++) quantQxK(x, i * 256, out, i * 144, 4);
      break;
    case GgmlType.Q5_K:
      for (let i = 0; i < nb; i++) quantQxK(x, i * 256, out, i * 176, 5);
      break;
    case GgmlType.Q6_K:
      for (let i = 0; i < nb; i++) quantQ6_K(x, i * 256, out, i * 210);
      break;
    case GgmlType.IQ4_NL: {
      const levels = new Uint8Array(32);
      for (let i = 0; i < nb; i++) quantIQ4_NL(x, i * 32, out, i * 18, levels);
      break;
    }
    case GgmlType.IQ4_XS:
      for (let i = 0; i < nb; i++) quantIQ4_XS(x, i * 256, out, i * 136);
      break;
    default:
      throw new GgufUnknownTypeError(`no quantizer for ${tr.name}`);
  }
  return out;
}

function quantQ4_0(x: Float32Array, xo: number, out: Uint8Array, o: number): void {
  // Scale so that the extreme value maps to -8 exactly: uses the full [-8, 7] range.
  const d = fr(signedAbsMax(x, xo, 32) / -8);
  const id = d ? fr(1 / d) : 0;
  putF16(out, o, d);
  for (let j = 0; j < 16; j++) {
    const a = Math.min(15, Math.trunc(fr(fr(x[xo + j]! * id) + 8.5)));
    const b = Math.min(15, Math.trunc(fr(fr(x[xo + 16 + j]! * id) + 8.5)));
    out[o + 2 + j] = a | (b << 4);
  }
}

function quantQ5_0(x: Float32Array, xo: number, out: Uint8Array, o: number): void {
  const d = fr(signedAbsMax(x, xo, 32) / -16);
  const id = d ? fr(1 / d) : 0;
  putF16(out, o, d);
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const a = Math.min(31, Math.trunc(fr(fr(x[xo + j]! * id) + 16.5)));
    const b = Math.min(31, Math.trunc(fr(fr(x[xo + 16 + j]! * id) + 16.5)));
    out[o + 6 + j] = (a & 0x0f) | ((b & 0x0f) << 4);
    qh |= ((a & 0x10) >> 4) << j;
    qh |= ((b & 0x10) >> 4) << (j + 16);
  }
  new DataView(out.buffer, out.byteOffset).setUint32(o + 2, qh >>> 0, true);
}

/** Q4_1 (bits 4) and Q5_1 (bits 5): scale and min from the block's range. */
function quantQx_1(x: Float32Array, xo: number, out: Uint8Array, o: number, bits: 4 | 5): void {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < 32; j++) {
    const v = x[xo + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const d = fr(fr(max - min) / ((1 << bits) - 1));
  const id = d ? fr(1 / d) : 0;
  putF16(out, o, d);
  putF16(out, o + 2, min);
  if (bits === 4) {
    for (let j = 0; j < 16; j++) {
      const a = Math.min(15, Math.trunc(fr(fr(fr(x[xo + j]! - min) * id) + 0.5)));
      const b = Math.min(15, Math.trunc(fr(fr(fr(x[xo + 16 + j]! - min) * id) + 0.5)));
      out[o + 4 + j] = a | (b << 4);
    }
    return;
  }
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    // ggml casts to uint8 without clamping; values stay within [0, 31] for finite input.
    const a = Math.trunc(fr(fr(fr(x[xo + j]! - min) * id) + 0.5)) & 0xff;
    const b = Math.trunc(fr(fr(fr(x[xo + 16 + j]! - min) * id) + 0.5)) & 0xff;
    out[o + 8 + j] = (a & 0x0f) | ((b & 0x0f) << 4);
    qh |= ((a & 0x10) >> 4) << j;
    qh |= ((b & 0x10) >> 4) << (j + 16);
  }
  new DataView(out.buffer, out.byteOffset).setUint32(o + 4, qh >>> 0, true);
}

function quantQ8_0(x: Float32Array, xo: number, out: Uint8Array, o: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j]!));
  const d = fr(amax / 127);
  const id = d ? fr(1 / d) : 0;
  putF16(out, o, d);
  for (let j = 0; j < 32; j++) {
    const q = roundAway(fr(x[xo + j]! * id));
    out[o + 2 + j] = q & 0xff;
  }
}

/**
 * Q4_K (bits 4) and Q5_K (bits 5): eight 32-element sub-blocks, each with a 6-bit scale and min
 * relative to the super-block's f16 `d` and `dmin`.
 */
function quantQxK(x: Float32Array, xo: number, out: Uint8Array, o: number, bits: 4 | 5): void {
  const nmax = (1 << bits) - 1;
  const L = new Uint8Array(256);
  const w = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(x[xo + 32 * j + l]! * x[xo + 32 * j + l]!));
    const avX = fr(Math.sqrt(fr(sumX2 / 32)));
    for (let l = 0; l < 32; l++) w[l] = avX + Math.abs(x[xo + 32 * j + l]!);
    const [sc, mn] =
      bits === 4
        ? makeQkx2(32, nmax, x, xo + 32 * j, w, L, 32 * j, -1, 0.1, 20, false)
        : makeQkx2(32, nmax, x, xo + 32 * j, w, L, 32 * j, -0.5, 0.1, 15, false);
    scales[j] = sc;
    mins[j] = mn;
    if (scales[j]! > maxScale) maxScale = scales[j]!;
    if (mins[j]! > maxMin) maxMin = mins[j]!;
  }
  const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
  const s = o + 4;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(fr(invScale * scales[j]!)) & 0xff);
    const lm = Math.min(63, nearestInt(fr(invMin * mins[j]!)) & 0xff);
    if (j < 4) {
      out[s + j] = ls;
      out[s + j + 4] = lm;
    } else {
      out[s + j + 4] = (ls & 0x0f) | ((lm & 0x0f) << 4);
      out[s + j - 4]! |= (ls >> 4) << 6;
      out[s + j]! |= (lm >> 4) << 6;
    }
  }
  const d = putF16(out, o, fr(maxScale / 63));
  const dmin = putF16(out, o + 2, fr(maxMin / 63));
  for (let j = 0; j < 8; j++) {
    const [sc, m] = scaleMinOf(out, s, j);
    const dj = fr(d * sc);
    if (!dj) continue;
    const dm = fr(dmin * m);
    for (let ii = 0; ii < 32; ii++) {
      const l = nearestInt(fr(fr(x[xo + 32 * j + ii]! + dm) / dj));
      L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
    }
  }
  if (bits === 4) {
    let q = o + 16;
    for (let j = 0; j < 256; j += 64) {
      for (let l = 0; l < 32; l++) out[q + l] = L[j + l]! | (L[j + l + 32]! << 4);
      q += 32;
    }
    return;
  }
  const qh = o + 16;
  let ql = o + 48;
  let m1 = 1;
  let m2 = 2;
  for (let n = 0; n < 256; n += 64) {
    for (let j = 0; j < 32; j++) {
      let l1 = L[n + j]!;
      if (l1 > 15) {
        l1 -= 16;
        out[qh + j]! |= m1;
      }
      let l2 = L[n + j + 32]!;
      if (l2 > 15) {
        l2 -= 16;
        out[qh + j]! |= m2;
      }
      out[ql + j] = l1 | (l2 << 4);
    }
    m1 <<= 2;
    m2 <<= 2;
    ql += 32;
  }
}

/** 6-bit scale and min of sub-block j (same packing as the dequantizer's get_scale_min_k4). */
function scaleMinOf(q: Uint8Array, so: number, j: number): [number, number] {
  if (j < 4) return [q[so + j]! & 63, q[so + j + 4]! & 63];
  return [
    (q[so + j + 4]! & 0x0f) | ((q[so + j - 4]! >> 6) << 4),
    (q[so + j + 4]! >> 4) | ((q[so + j]! >> 6) << 4),
  ];
}

/**
 * ggml's `make_qx_quants` with rmse_type 1 (weights x²) and no importance: symmetric levels
 * L in [0, 2·nmax) for `x ≈ scale·(L − nmax)`, refined over 18 nearby scales. Returns the scale.
 */
function makeQx(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  const max = signedAbsMax(x, xo, n);
  const amax = Math.abs(max);
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const clampL = (v: number): number => Math.max(-nmax, Math.min(nmax - 1, v));
  let iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    const l = clampL(nearestInt(fr(iscale * xi)));
    L[lo + i] = l + nmax;
    const w = fr(xi * xi);
    sumlx = fr(sumlx + fr(fr(w * xi) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  let scale = suml2 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(fr(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const l = clampL(nearestInt(fr(iscale * xi)));
      const w = fr(xi * xi);
      sumlx = fr(sumlx + fr(fr(w * xi) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) L[lo + i] = nmax + clampL(nearestInt(fr(iscale * x[xo + i]!)));
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

/** Q6_K: sixteen 16-element sub-blocks with signed 8-bit scales relative to an f16 `d`. */
function quantQ6_K(x: Float32Array, xo: number, out: Uint8Array, o: number): void {
  const L = new Int8Array(256);
  const scales = new Float32Array(16);
  let maxScale = 0;
  let maxAbsScale = 0;
  for (let ib = 0; ib < 16; ib++) {
    const scale = makeQx(16, 32, x, xo + 16 * ib, L, 16 * ib);
    scales[ib] = scale;
    if (Math.abs(scale) > maxAbsScale) {
      maxAbsScale = Math.abs(scale);
      maxScale = scale;
    }
  }
  if (maxAbsScale < GROUP_MAX_EPS) return; // the block stays all zero bytes (d = 0)
  const iscale = fr(-128 / maxScale);
  const d = putF16(out, o + 208, fr(1 / iscale));
  const sc = new Int8Array(16);
  for (let ib = 0; ib < 16; ib++) {
    sc[ib] = Math.min(127, nearestInt(fr(iscale * scales[ib]!)));
    out[o + 192 + ib] = sc[ib]! & 0xff;
  }
  for (let j = 0; j < 16; j++) {
    const dj = fr(d * sc[j]!);
    if (!dj) continue;
    for (let ii = 0; ii < 16; ii++) {
      const l = Math.max(-32, Math.min(31, nearestInt(fr(x[xo + 16 * j + ii]! / dj))));
      L[16 * j + ii] = l + 32;
    }
  }
  let ql = o;
  let qh = o + 128;
  for (let j = 0; j < 256; j += 128) {
    for (let l = 0; l < 32; l++) {
      const a = L[j + l]!;
      const b = L[j + l + 32]!;
      const c = L[j + l + 64]!;
      const e = L[j + l + 96]!;
      out[ql + l] = (a & 0x0f) | ((c & 0x0f) << 4);
      out[ql + l + 32] = (b & 0x0f) | ((e & 0x0f) << 4);
      out[qh + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
    }
    ql += 64;
    qh += 32;
  }
}
