/**
 * IEEE half (f16) and bfloat16 conversions, bit-exact with ggml's `GGML_FP32_TO_FP16` /
 * `GGML_FP32_TO_BF16`: round to nearest even, NaN kept quiet, subnormals kept.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f32 bit pattern of `x` (after rounding `x` to f32). */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/** The f32 value of a 32-bit pattern. */
export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0]!;
}

/** f32 → f16 bits, rounding to nearest even; overflow becomes ±Inf, NaN becomes 0x7e00 like ggml. */
export function f32ToF16Bits(x: number): number {
  const w = f32Bits(x);
  const sign = (w >>> 16) & 0x8000;
  const exp = (w >>> 23) & 0xff;
  let mant = w & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? 0x7e00 | sign : sign | 0x7c00;
  // Unbiased exponent re-biased for f16 (bias 15 instead of 127).
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal f16 (or zero): shift the mantissa with its implicit bit into place, rounding to even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1) === 1)) m += 1;
    return sign | m;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and can reach Inf).
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1;
  return sign | h;
}

/** f16 bits → the exact f32 value. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** f32 → bf16 bits, rounding to nearest even; NaN is forced quiet as ggml does. */
export function f32ToBf16Bits(x: number): number {
  const w = f32Bits(x);
  if ((w & 0x7fffffff) >>> 0 > 0x7f800000) return ((w >>> 16) | 64) & 0xffff;
  return ((w + (0x7fff + ((w >>> 16) & 1))) >>> 16) & 0xffff;
}

/** bf16 bits → f32 value. */
export function bf16BitsToF32(b: number): number {
  return f32FromBits((b & 0xffff) << 16);
}

/** Rounds `x` to the nearest f16-representable value (as a number). */
export function roundToF16(x: number): number {
  return f16BitsToF32(f32ToF16Bits(x));
}
