/**
 * Fixed-point encoding of update vectors for the modular sum of secure aggregation.
 *
 * Each coordinate is clipped to [−clip, clip], scaled by 2^scaleBits, stochastically rounded to an
 * integer (unbiased: E[q] = x·2^scaleBits; randomness from crypto.getRandomValues), optionally
 * given integer DP noise, and stored in Z_{2^32} as two's complement. The sum of up to
 * `maxClients` such vectors is read back as a signed 32-bit integer, exact as long as it never
 * wraps:
 *
 *   maxClients · (clip · 2^scaleBits + 1 + noiseBound) ≤ 2^31 − 1
 *
 * (+1 because stochastic rounding may round up once). Parameters breaking this are refused.
 *
 * Defaults for LoRA deltas (per-coordinate |Δ| is typically well under 1): clip 1, scale 2^20
 * (resolution 2^-20 ≈ 9.5e-7, each client's rounding error < 2^-20 per coordinate), room for
 * 1024 clients without noise. Flower's defaults (clip 8, 2^22) leave room for only 63 clients in
 * this encoding and spend the range on values LoRA deltas do not reach. Callers that add DP noise
 * declare its per-coordinate bound and lower maxClients or scaleBits to keep the headroom.
 */
import { QuantizationError } from '../errors.ts';

export interface QuantizationParams {
  /** Per-coordinate clipping value c: coordinates are clamped to [−c, c]. */
  clip: number;
  /** k: values are scaled by 2^k before rounding. */
  scaleBits: number;
  /** Most vectors ever summed under these parameters (the headroom check's n). */
  maxClients: number;
  /** Largest |noise| per coordinate a client may add (0 without DP noise). */
  noiseBound: number;
}

export const DEFAULT_QUANTIZATION: Readonly<QuantizationParams> = Object.freeze({
  clip: 1,
  scaleBits: 20,
  maxClients: 1024,
  noiseBound: 0,
});

const INT31_MAX = 2 ** 31 - 1;

/**
 * Checks parameters are well formed and leave headroom for their client count.
 * @throws {QuantizationError} QUANT_HEADROOM when the sum could wrap, QUANT_INPUT when malformed.
 */
export function checkQuantizationParams(p: QuantizationParams): void {
  if (!(Number.isFinite(p.clip) && p.clip > 0)) throw new QuantizationError('clip must be a positive number');
  if (!Number.isInteger(p.scaleBits) || p.scaleBits < 0 || p.scaleBits > 30)
    throw new QuantizationError('scaleBits must be an integer in 0…30');
  if (!Number.isInteger(p.maxClients) || p.maxClients < 1)
    throw new QuantizationError('maxClients must be a positive integer');
  if (!Number.isInteger(p.noiseBound) || p.noiseBound < 0)
    throw new QuantizationError('noiseBound must be a non-negative integer');
  const perClient = p.clip * 2 ** p.scaleBits + 1 + p.noiseBound;
  if (p.maxClients * perClient > INT31_MAX)
    throw new QuantizationError(
      `${p.maxClients} clients × (${p.clip}·2^${p.scaleBits} + 1 + ${p.noiseBound}) exceeds 2^31 − 1: the sum could wrap`,
      'QUANT_HEADROOM',
    );
}

export interface QuantizeOptions {
  /**
   * The caller has already clipped the whole vector to L2 norm ≤ clip (as DP-FedAvg does), so every
   * coordinate is within [−clip, clip]; a vector that is not is refused instead of silently clamped.
   */
  assumeL2Clipped?: boolean;
  /** Integer noise added to the quantized vector before masking, |noise_i| ≤ noiseBound. */
  noise?: Int32Array;
}

const RANDOM_CHUNK = 16384; // getRandomValues fills at most 65536 bytes per call

/**
 * Quantizes an update to Z_{2^32}.
 * @throws {QuantizationError} for bad parameters, non-finite values, a vector over its promised L2
 *   clip, or noise of the wrong length or over `noiseBound`.
 */
export function quantize(
  values: Float32Array | Float64Array,
  params: QuantizationParams,
  options: QuantizeOptions = {},
): Uint32Array {
  checkQuantizationParams(params);
  const { clip } = params;
  const scale = 2 ** params.scaleBits;
  const noise = options.noise;
  if (noise && noise.length !== values.length)
    throw new QuantizationError(`noise has ${noise.length} coordinates, the update ${values.length}`);
  let sq = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new QuantizationError(`coordinate ${i} is not finite`);
    sq += v * v;
  }
  // Float32 inputs clipped in float32 may exceed the bound by rounding: allow a relative 1e-6.
  if (options.assumeL2Clipped && Math.sqrt(sq) > clip * (1 + 1e-6))
    throw new QuantizationError(`update L2 norm ${Math.sqrt(sq)} exceeds the promised clip ${clip}`);
  const out = new Uint32Array(values.length);
  const rand = new Uint32Array(RANDOM_CHUNK);
  for (let i = 0; i < values.length; i++) {
    const r = i % RANDOM_CHUNK;
    if (r === 0) crypto.getRandomValues(rand);
    const scaled = Math.min(clip, Math.max(-clip, values[i]!)) * scale;
    const lo = Math.floor(scaled);
    // Round up with probability equal to the fractional part: unbiased stochastic rounding.
    let q = lo + (rand[r]! / 4294967296 < scaled - lo ? 1 : 0);
    if (noise) {
      const z = noise[i]!;
      if (Math.abs(z) > params.noiseBound)
        throw new QuantizationError(`noise at ${i} (${z}) exceeds noiseBound ${params.noiseBound}`);
      q += z;
    }
    out[i] = q >>> 0;
  }
  return out;
}

/**
 * Reads the modular sum of `count` quantized vectors back as floats (the sum, not the mean): each
 * word is taken as a signed 32-bit integer and divided by 2^scaleBits.
 * @throws {QuantizationError} QUANT_HEADROOM if `count` exceeds what the parameters leave room for.
 */
export function dequantizeSum(sum: Uint32Array, count: number, params: QuantizationParams): Float32Array {
  checkQuantizationParams(params);
  if (!Number.isInteger(count) || count < 1 || count > params.maxClients)
    throw new QuantizationError(
      `a sum of ${count} vectors is outside 1…${params.maxClients} these parameters allow`,
      'QUANT_HEADROOM',
    );
  const inv = 2 ** -params.scaleBits;
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = (sum[i]! | 0) * inv;
  return out;
}
