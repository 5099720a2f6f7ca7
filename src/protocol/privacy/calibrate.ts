/**
 * Calibration: the least noise that meets a target (ε, δ) over a task's rounds. ε is continuous and
 * decreasing in the noise, so bisection on log(noise) finds it; the answer returned is always on
 * the safe side (its ε ≤ target).
 */
import { PrivacyParameterError } from '../errors.ts';
import {
  GAUSSIAN_ORDERS,
  INTEGER_ORDERS,
  epsilonFromRdp,
  gaussianRdp,
  skellamRdp,
  subsampledGaussianRdp,
} from './rdp.ts';
import { integerSensitivity, type QuantizationParams, type Sensitivity } from './sensitivity.ts';
import { MAX_SKELLAM_VARIANCE } from './skellam.ts';

/** A privacy target over a whole task. */
export interface PrivacyTarget {
  epsilon: number;
  delta: number;
  rounds: number;
}

/** Checks a target: ε > 0, 0 < δ < 1, a positive whole number of rounds. @throws PrivacyParameterError */
export function checkTarget(t: PrivacyTarget): void {
  if (!(
    Number.isFinite(t.epsilon) &&
    t.epsilon > 0 &&
    t.delta > 0 &&
    t.delta < 1 &&
    Number.isSafeInteger(t.rounds) &&
    t.rounds >= 1
  )) {
    throw new PrivacyParameterError(
      `invalid privacy target: ε ${t.epsilon}, δ ${t.delta}, rounds ${t.rounds}`,
    );
  }
}

/** Smallest x in [lo, hi] (to relative 1e-9) with `meets(x)`, given meets(hi) and ε monotone in x. */
function bisectLog(meets: (x: number) => boolean, lo: number, hi: number): number {
  let a = Math.log(lo);
  let b = Math.log(hi);
  while (b - a > 1e-9) {
    const m = (a + b) / 2;
    if (meets(Math.exp(m))) b = m;
    else a = m;
  }
  return Math.exp(b);
}

/** RDP at each order of one Skellam release with variance μ per coordinate. */
export function skellamRdpCurve(orders: readonly number[], s: Sensitivity, variance: number): number[] {
  return orders.map((a) => skellamRdp(a, s.l2, s.l1, variance));
}

/** What a distributed Skellam plan is computed from. */
export interface SkellamPlanInput extends PrivacyTarget, QuantizationParams {
  /**
   * Fewest clients whose noise share is guaranteed to be in any released sum: the secure
   * aggregation threshold t (a sum is only released when ≥ t clients survive), less the number of
   * clients not trusted to add their share. With no dropout and full trust it is the cohort size n.
   */
  minNoisyClients: number;
  /** Integer RDP orders; INTEGER_ORDERS by default. */
  orders?: readonly number[];
}

/** Noise for a task: what each client adds, what the sum carries at worst, and what it buys. */
export interface SkellamPlan {
  target: PrivacyTarget;
  quantization: QuantizationParams;
  sensitivity: Sensitivity;
  minNoisyClients: number;
  /** Variance of the Skellam noise in the released sum when exactly `minNoisyClients` noised it. */
  centralVariance: number;
  /** Variance each client adds per coordinate: centralVariance / minNoisyClients. */
  localVariance: number;
  /** ε after `target.rounds` worst-case rounds (≤ target.epsilon). */
  epsilon: number;
  orders: readonly number[];
}

/**
 * The least Skellam noise that keeps a task within (ε, δ) over its rounds when only
 * `minNoisyClients` clients' shares reach each released sum.
 * @throws PrivacyParameterError (PRIVACY_PARAMETERS) for invalid inputs; (PRIVACY_TARGET_UNREACHABLE)
 *   when even the largest variance allowed cannot meet the target.
 */
export function planSkellam(input: SkellamPlanInput): SkellamPlan {
  checkTarget(input);
  if (!(Number.isSafeInteger(input.minNoisyClients) && input.minNoisyClients >= 1)) {
    throw new PrivacyParameterError(
      `minNoisyClients must be a positive integer, got ${input.minNoisyClients}`,
    );
  }
  const orders = input.orders ?? INTEGER_ORDERS;
  if (orders.length === 0 || orders.some((a) => !Number.isInteger(a) || a < 2)) {
    throw new PrivacyParameterError('Skellam accounting needs integer orders ≥ 2');
  }
  const quantization: QuantizationParams = {
    clipNorm: input.clipNorm,
    scale: input.scale,
    dimension: input.dimension,
    rounding: input.rounding,
  };
  const sensitivity = integerSensitivity(quantization);
  const target: PrivacyTarget = { epsilon: input.epsilon, delta: input.delta, rounds: input.rounds };
  const epsilonAt = (mu: number) =>
    epsilonFromRdp(
      orders,
      skellamRdpCurve(orders, sensitivity, mu).map((r) => r * target.rounds),
      target.delta,
    ).epsilon;
  const maxCentral = MAX_SKELLAM_VARIANCE * input.minNoisyClients;
  if (epsilonAt(maxCentral) > target.epsilon) {
    throw new PrivacyParameterError(
      `no Skellam variance up to ${maxCentral} meets ε ${target.epsilon} at δ ${target.delta} over ${target.rounds} rounds`,
      'PRIVACY_TARGET_UNREACHABLE',
    );
  }
  const centralVariance = bisectLog((mu) => epsilonAt(mu) <= target.epsilon, 1e-6, maxCentral);
  return {
    target,
    quantization,
    sensitivity,
    minNoisyClients: input.minNoisyClients,
    centralVariance,
    localVariance: centralVariance / input.minNoisyClients,
    epsilon: epsilonAt(centralVariance),
    orders,
  };
}

/**
 * RDP of one round of a plan in which `noisyClients` (≥ plan.minNoisyClients) shares reached the
 * released sum: its noise variance is noisyClients × localVariance.
 * @throws PrivacyParameterError when fewer than plan.minNoisyClients are claimed.
 */
export function skellamRoundRdp(plan: SkellamPlan, noisyClients = plan.minNoisyClients): number[] {
  if (!(Number.isSafeInteger(noisyClients) && noisyClients >= plan.minNoisyClients)) {
    throw new PrivacyParameterError(
      `a released sum needs at least ${plan.minNoisyClients} noise shares, got ${noisyClients}`,
    );
  }
  return skellamRdpCurve(plan.orders, plan.sensitivity, noisyClients * plan.localVariance);
}

/**
 * The least Gaussian noise multiplier z = σ/Δ2 meeting the target, for continuous Gaussian noise,
 * optionally with Poisson sampling of the cohort at `sampleRate` (then on integer orders only), on
 * `orders` (GAUSSIAN_ORDERS, or INTEGER_ORDERS when sampled, by default).
 * @throws PrivacyParameterError for invalid inputs or when z ≤ 1e6 cannot meet the target.
 */
export function calibrateGaussian(
  target: PrivacyTarget & { sampleRate?: number; orders?: readonly number[] },
): {
  noiseMultiplier: number;
  epsilon: number;
} {
  checkTarget(target);
  const q = target.sampleRate ?? 1;
  if (!(q > 0 && q <= 1)) throw new PrivacyParameterError(`sampleRate must be in (0, 1], got ${q}`);
  // The subsampled sum is exact for integer orders only.
  const orders = target.orders ?? (q === 1 ? GAUSSIAN_ORDERS : INTEGER_ORDERS);
  if (q < 1 && orders.some((a) => !Number.isInteger(a) || a < 2)) {
    throw new PrivacyParameterError('subsampled Gaussian accounting needs integer orders ≥ 2');
  }
  const epsilonAt = (z: number) =>
    epsilonFromRdp(
      orders,
      orders.map((a) => (q === 1 ? gaussianRdp(a, 1, z) : subsampledGaussianRdp(a, q, z)) * target.rounds),
      target.delta,
    ).epsilon;
  const maxZ = 1e6;
  if (epsilonAt(maxZ) > target.epsilon) {
    throw new PrivacyParameterError(
      `no noise multiplier up to ${maxZ} meets the target`,
      'PRIVACY_TARGET_UNREACHABLE',
    );
  }
  const noiseMultiplier = bisectLog((z) => epsilonAt(z) <= target.epsilon, 1e-3, maxZ);
  return { noiseMultiplier, epsilon: epsilonAt(noiseMultiplier) };
}
