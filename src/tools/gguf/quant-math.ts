/**
 * Arithmetic shared by the reference quantizers (quantize.ts, quantize-low-bit.ts): ggml's rounding
 * helpers and its `make_qkx2_quants` fit, with every float operation rounded to f32 (`fr`) where C
 * rounds it, so the chosen levels and scales are ggml's to the bit.
 */
import { f16BitsToF32, f32ToF16Bits } from '../../engine/gguf/quant/half.ts';

const fr = Math.fround;

/** Below this, a group is treated as all zeros (ggml's GROUP_MAX_EPS). */
export const GROUP_MAX_EPS = fr(1e-15);

/**
 * The element of largest magnitude among `x[xo..xo+n)` (the first one on ties, as ggml's loops keep
 * it), with its sign: the value ggml's symmetric quantizers and fits divide by.
 */
export function signedAbsMax(x: Float32Array, xo: number, n: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]!);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i]!;
    }
  }
  return max;
}

const NI_F32 = new Float32Array(1);
const NI_I32 = new Int32Array(NI_F32.buffer);

/**
 * ggml's `nearest_int`: adds 1.5·2^23 in f32 and reads the low mantissa bits, which rounds half to
 * even for |x| < 2^22. Outside that range ggml's answer is the same bit trick, reproduced here, so
 * an out-of-range intermediate clamps to the same level as in C.
 */
export function nearestInt(x: number): number {
  const v = fr(x + 12582912);
  if (v >= 8388608 && v < 16777216) return v - 12582912;
  NI_F32[0] = v;
  return (NI_I32[0]! & 0x7fffff) - 0x400000;
}

/** Writes f16 `x` at byte `o` (little-endian); returns the value the f16 holds. */
export function putF16(out: Uint8Array, o: number, x: number): number {
  const h = f32ToF16Bits(x);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
  return f16BitsToF32(h);
}

/** Scratch for makeQkx2 (sub-blocks are at most 32 wide); Float32Array stores round to f32 like C. */
const LAUX = new Uint8Array(32);
const DIFFS = new Float32Array(32);

/**
 * ggml's `make_qkx2_quants`: fits `x ≈ scale·L − min` with L in [0, nmax] by weighted least squares
 * over a small search of candidate scales, scoring each by weighted squared error or, with `useMad`,
 * weighted absolute error (Q2_K). Writes L into `L[lo..lo+n)`; returns [scale, min].
 */
export function makeQkx2(
  n: number,
  nmax: number,
  x: Float32Array,
  xo: number,
  w: Float32Array,
  L: Uint8Array,
  lo: number,
  rmin: number,
  rdelta: number,
  nstep: number,
  useMad: boolean,
): [number, number] {
  const laux = LAUX.subarray(0, n);
  const diffs = DIFFS;
  const err = (diff: number): number => (useMad ? Math.abs(diff) : fr(diff * diff));
  let min = x[xo]!;
  let max = x[xo]!;
  let sumW = w[0]!;
  let sumX = fr(sumW * x[xo]!);
  for (let i = 1; i < n; i++) {
    const v = x[xo + i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sumW = fr(sumW + w[i]!);
    sumX = fr(sumX + fr(w[i]! * v));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    return [0, -min];
  }
  let iscale = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.max(0, Math.min(nmax, nearestInt(fr(iscale * fr(x[xo + i]! - min)))));
    L[lo + i] = l;
    const diff = fr(fr(fr(scale * l) + min) - x[xo + i]!);
    bestError = fr(bestError + fr(w[i]! * err(diff)));
  }
  // x - min only changes when a better min is found, so it is computed once per change.
  for (let i = 0; i < n; i++) diffs[i] = x[xo + i]! - min;
  for (let is = 0; is <= nstep; is++) {
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / fr(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(fr(iscale * diffs[i]!))));
      laux[i] = l;
      const wl = fr(w[i]! * l);
      sumL = fr(sumL + wl);
      sumL2 = fr(sumL2 + fr(wl * l));
      sumXL = fr(sumXL + fr(wl * x[xo + i]!));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = fr(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = fr(fr(fr(thisScale * laux[i]!) + thisMin) - x[xo + i]!);
        curError = fr(curError + fr(w[i]! * err(diff)));
      }
      if (curError < bestError) {
        L.set(laux, lo);
        bestError = curError;
        scale = thisScale;
        min = thisMin;
        for (let i = 0; i < n; i++) diffs[i] = x[xo + i]! - min;
      }
    }
  }
  return [scale, -min];
}
