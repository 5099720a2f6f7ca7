/**
 * Reference quantizers for the 2–4-bit formats Q2_K, Q3_K, IQ4_NL and IQ4_XS, following llama.cpp's
 * `quantize_row_{q2_K,q3_K,iq4_nl,iq4_xs}_ref` (ggml-quants.c; the IQ4 ones run the importance-free
 * path of `quantize_iq4_nl/xs`). Every float operation is rounded to f32 where C rounds it, so the
 * bytes are ggml's for the same input. Each function writes one block of `x` from `xo` at `out[o]`.
 */
import { IQ4_NL_VALUES, q3KScale } from '../../engine/gguf/quant/dequantize.ts';
import { GROUP_MAX_EPS, makeQkx2, nearestInt, putF16, signedAbsMax } from './quant-math.ts';

const fr = Math.fround;

/** Packs 2-bit levels as Q2_K/Q3_K store them: element e is field (e % 128) / 32 of qs[e/128·32 + e%32]. */
function pack2Bit(L: Uint8Array | Int8Array, out: Uint8Array, qs: number): void {
  for (let j = 0; j < 256; j += 128) {
    for (let l = 0; l < 32; l++) {
      out[qs + j / 4 + l] = L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6);
    }
  }
}

/**
 * Q2_K: each 16-element sub-block gets `x ≈ scale·L − min` (L in 0..3) fitted for least absolute
 * error weighted by |x|; the sixteen scales and mins are then quantized to 4 bits against f16
 * super-scales, and L is recomputed with the stored values.
 */
export function quantQ2_K(x: Float32Array, xo: number, out: Uint8Array, o: number): void {
  const L = new Uint8Array(256);
  const w = new Float32Array(16);
  const scales = new Float32Array(16);
  const mins = new Float32Array(16);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 16; j++) {
    for (let l = 0; l < 16; l++) w[l] = Math.abs(x[xo + 16 * j + l]!);
    const [sc, mn] = makeQkx2(16, 3, x, xo + 16 * j, w, L, 16 * j, -0.5, 0.1, 15, true);
    scales[j] = sc;
    mins[j] = mn;
    if (scales[j]! > maxScale) maxScale = scales[j]!;
    if (mins[j]! > maxMin) maxMin = mins[j]!;
  }
  let d = 0;
  let dmin = 0;
  if (maxScale > 0) {
    const iscale = fr(15 / maxScale);
    for (let j = 0; j < 16; j++) out[o + j] = nearestInt(fr(iscale * scales[j]!)) & 0xff;
    d = putF16(out, o + 80, fr(maxScale / 15));
  } else {
    d = putF16(out, o + 80, 0);
  }
  if (maxMin > 0) {
    const iscale = fr(15 / maxMin);
    for (let j = 0; j < 16; j++) out[o + j] = (out[o + j]! | (nearestInt(fr(iscale * mins[j]!)) << 4)) & 0xff;
    dmin = putF16(out, o + 82, fr(maxMin / 15));
  } else {
    dmin = putF16(out, o + 82, 0);
  }
  for (let j = 0; j < 16; j++) {
    const dj = fr(d * (out[o + j]! & 0x0f));
    if (!dj) continue;
    const dm = fr(dmin * (out[o + j]! >> 4));
    for (let ii = 0; ii < 16; ii++) {
      const l = nearestInt(fr(fr(x[xo + 16 * j + ii]! + dm) / dj));
      L[16 * j + ii] = Math.max(0, Math.min(3, l));
    }
  }
  pack2Bit(L, out, o + 16);
}

/** Scratch for makeQ3: levels before the +nmax offset. */
const Q3_L = new Int32Array(16);

/**
 * ggml's `make_q3_quants` with rmse: symmetric levels in [−nmax, nmax) for `x ≈ scale·L`, then up
 * to five passes moving single levels while that raises Σ(w·x·L)²/Σ(w·L²) (weights x²). Writes
 * L + nmax into `L[lo..lo+n)`; returns the scale.
 */
function makeQ3(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  const max = signedAbsMax(x, xo, n);
  const amax = Math.abs(max);
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const clampL = (v: number): number => Math.max(-nmax, Math.min(nmax - 1, v));
  const iscale = fr(-nmax / max);
  const q = Q3_L;
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    const l = clampL(nearestInt(fr(iscale * xi)));
    q[i] = l;
    const w = fr(xi * xi);
    sumlx = fr(sumlx + fr(fr(w * xi) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const w = fr(xi * xi);
      let slx = fr(sumlx - fr(fr(w * xi) * q[i]!));
      if (slx > 0) {
        let sl2 = fr(suml2 - fr(fr(w * q[i]!) * q[i]!));
        const newL = clampL(nearestInt(fr(fr(xi * sl2) / slx)));
        if (newL !== q[i]) {
          slx = fr(slx + fr(fr(w * xi) * newL));
          sl2 = fr(sl2 + fr(fr(w * newL) * newL));
          if (sl2 > 0 && fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            q[i] = newL;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (let i = 0; i < n; i++) L[lo + i] = q[i]! + nmax;
  return suml2 > 0 ? fr(sumlx / suml2) : 0;
}

/**
 * Q3_K: sixteen 16-element sub-blocks with levels in −4..3 (low two bits in `qs`, the third in
 * `hmask`) and signed 6-bit scales relative to an f16 `d`.
 */
export function quantQ3_K(x: Float32Array, xo: number, out: Uint8Array, o: number): void {
  const L = new Int8Array(256);
  const scales = new Float32Array(16);
  let maxScale = 0;
  let amax = 0;
  for (let j = 0; j < 16; j++) {
    scales[j] = makeQ3(16, 4, x, xo + 16 * j, L, 16 * j);
    const a = Math.abs(scales[j]!);
    if (a > amax) {
      amax = a;
      maxScale = scales[j]!;
    }
  }
  const sc = o + 96;
  out.fill(0, sc, sc + 12);
  let d = 0;
  if (maxScale) {
    const iscale = fr(-32 / maxScale);
    for (let j = 0; j < 16; j++) {
      // ggml stores nearest_int's result in an int8 before clamping.
      const l = Math.max(-32, Math.min(31, (nearestInt(fr(iscale * scales[j]!)) << 24) >> 24)) + 32;
      if (j < 8) out[sc + j] = l & 0x0f;
      else out[sc + j - 8]! |= (l & 0x0f) << 4;
      out[sc + 8 + (j & 3)]! |= (l >> 4) << (2 * (j >> 2));
    }
    d = putF16(out, o + 108, fr(1 / iscale));
  } else {
    d = putF16(out, o + 108, 0);
  }
  for (let j = 0; j < 16; j++) {
    const dj = fr(d * (q3KScale(j, out, sc) - 32));
    if (!dj) continue;
    for (let ii = 0; ii < 16; ii++) {
      const l = nearestInt(fr(x[xo + 16 * j + ii]! / dj));
      L[16 * j + ii] = Math.max(-4, Math.min(3, l)) + 4;
    }
  }
  // The third bit of element e goes to bit e / 32 of hmask[e % 32].
  out.fill(0, o, o + 32);
  for (let e = 0; e < 256; e++) {
    if (L[e]! > 3) {
      out[o + (e & 31)]! |= 1 << (e >> 5);
      L[e]! -= 4;
    }
  }
  pack2Bit(L, out, o + 32);
}

/** ggml's `best_index_int8`: index of the IQ4 level nearest to `x` (the upper one on ties). */
function bestIndex(x: number): number {
  const v = IQ4_NL_VALUES;
  if (x <= v[0]!) return 0;
  if (x >= v[15]!) return 15;
  let ml = 0;
  let mu = 15;
  while (mu - ml > 1) {
    const mav = (ml + mu) >> 1;
    if (x < v[mav]!) mu = mav;
    else ml = mav;
  }
  return fr(x - v[mu - 1]!) < fr(v[mu]! - x) ? mu - 1 : mu;
}

/**
 * Best scale for one 32-element IQ4 sub-block, weights x² (ggml's no-imatrix path), where `max` is
 * the value of largest magnitude. With `refine` (IQ4_XS) it starts from d = max/127 and also tries
 * 15 nearby inverse scales, keeping the least-squares scale of the best fit; without (IQ4_NL's
 * `_ref`, ggml's ntry = −1) it starts from d = −max/127 and keeps the least-squares scale of that
 * one assignment. Writes the first assignment's levels to `L[lo..)`.
 */
function iq4SubBlockScale(x: Float32Array, xo: number, L: Uint8Array, lo: number, refine: boolean): number {
  const values = IQ4_NL_VALUES;
  const max = signedAbsMax(x, xo, 32);
  const amax = Math.abs(max);
  // An all-zero sub-block leaves L as it was (libggml-base in node-llama-cpp does not clear it), so
  // an all-zero IQ4_NL block repeats the previous block's level bytes under a zero scale.
  if (amax < GROUP_MAX_EPS) return 0;
  let id = fr(1 / (refine ? fr(-max / values[0]!) : fr(max / values[0]!)));
  let sumqx = 0;
  let sumq2 = 0;
  for (let j = 0; j < 32; j++) {
    const xj = x[xo + j]!;
    const l = bestIndex(fr(id * xj));
    L[lo + j] = l;
    const q = values[l]!;
    const w = fr(xj * xj);
    sumqx = fr(sumqx + fr(fr(w * q) * xj));
    sumq2 = fr(sumq2 + fr(fr(w * q) * q));
  }
  let d = sumq2 > 0 ? fr(sumqx / sumq2) : 0;
  let best = fr(d * sumqx);
  for (let itry = -7; refine && itry <= 7; itry++) {
    id = fr((itry + values[0]!) / max);
    sumqx = 0;
    sumq2 = 0;
    for (let j = 0; j < 32; j++) {
      const xj = x[xo + j]!;
      const q = values[bestIndex(fr(id * xj))]!;
      const w = fr(xj * xj);
      sumqx = fr(sumqx + fr(fr(w * q) * xj));
      sumq2 = fr(sumq2 + fr(fr(w * q) * q));
    }
    if (sumq2 > 0 && fr(sumqx * sumqx) > fr(best * sumq2)) {
      d = fr(sumqx / sumq2);
      best = fr(d * sumqx);
    }
  }
  return d;
}

/** Packs 4-bit level indices: byte j of each 32-element group holds elements j (low) and j + 16. */
function packNibbles(L: Uint8Array, n: number, out: Uint8Array, qs: number): void {
  for (let i = 0; i < n / 32; i++) {
    for (let j = 0; j < 16; j++) out[qs + 16 * i + j] = L[32 * i + j]! | (L[32 * i + 16 + j]! << 4);
  }
}

/**
 * IQ4_NL: one f16 scale per 32 elements, each element an index into the 16 non-uniform levels.
 * llama.cpp's `_ref` keeps the levels of its single fit (no refinement, no second assignment).
 * `L` (32 levels) is scratch the caller keeps across the blocks of a row, as ggml does.
 */
export function quantIQ4_NL(x: Float32Array, xo: number, out: Uint8Array, o: number, L: Uint8Array): void {
  putF16(out, o, iq4SubBlockScale(x, xo, L, 0, false));
  packNibbles(L, 32, out, o + 2);
}

/**
 * IQ4_XS: eight 32-element sub-blocks whose scales are quantized to signed 6 bits (stored + 32:
 * low nibbles in `scales_l`, high 2 bits in `scales_h`) against an f16 super-scale.
 */
export function quantIQ4_XS(x: Float32Array, xo: number, out: Uint8Array, o: number): void {
  const L = new Uint8Array(256);
  const scales = new Float32Array(8);
  let maxScale = 0;
  let amaxScale = 0;
  for (let ib = 0; ib < 8; ib++) {
    scales[ib] = iq4SubBlockScale(x, xo + 32 * ib, L, 32 * ib, true);
    const a = Math.abs(scales[ib]!);
    if (a > amaxScale) {
      amaxScale = a;
      maxScale = scales[ib]!;
    }
  }
  // Levels and sub-block scales use the f32 super-scale (not the stored f16), as in ggml.
  const d = fr(-maxScale / 32);
  putF16(out, o, d);
  const id = d ? fr(1 / d) : 0;
  let scalesH = 0;
  out.fill(0, o + 4, o + 8);
  for (let ib = 0; ib < 8; ib++) {
    const l = Math.max(-32, Math.min(31, nearestInt(fr(id * scales[ib]!))));
    const dl = fr(d * l);
    const idl = dl ? fr(1 / dl) : 0;
    for (let j = 0; j < 32; j++) L[32 * ib + j] = bestIndex(fr(idl * x[xo + 32 * ib + j]!));
    const ls = l + 32;
    out[o + 4 + (ib >> 1)]! |= (ls & 0x0f) << (4 * (ib & 1));
    scalesH |= (ls >> 4) << (2 * ib);
  }
  out[o + 2] = scalesH & 0xff;
  out[o + 3] = scalesH >> 8;
  packNibbles(L, 256, out, o + 8);
}
