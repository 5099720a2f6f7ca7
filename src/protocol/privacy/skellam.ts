/**
 * Symmetric Skellam noise: Sk(μ) = P₁ − P₂ with P₁, P₂ independent Poisson(μ/2), an integer with
 * mean 0 and variance μ (the parametrisation of Agarwal, Kairouz and Liu 2021, "The Skellam
 * Mechanism for Differentially Private Federated Learning", where μ is the variance).
 * Independent Sk(μ₁) + Sk(μ₂) is exactly Sk(μ₁ + μ₂), which is what lets each client add a share.
 */
import { PrivacyParameterError } from '../errors.ts';
import { poissonSampler } from './poisson.ts';
import { CryptoUniform } from './uniform.ts';

/**
 * Largest per-coordinate variance accepted. Its standard deviation (~3.2e7) is already far
 * beyond what a 32-bit secure-aggregation field can carry usefully, and keeping |noise| < 2^31
 * with overwhelming probability lets results live in an Int32Array.
 */
export const MAX_SKELLAM_VARIANCE = 1e15;

function checkVariance(variance: number): void {
  if (!Number.isFinite(variance) || variance < 0 || variance > MAX_SKELLAM_VARIANCE) {
    throw new PrivacyParameterError(
      `Skellam variance must be a finite number in [0, ${MAX_SKELLAM_VARIANCE}], got ${variance}`,
    );
  }
}

/**
 * Fills `out` with independent Sk(variance) draws, randomness from crypto.getRandomValues.
 * @throws PrivacyParameterError when the variance is negative, not finite or above the maximum.
 */
export function fillSkellam(out: Int32Array, variance: number, rng = new CryptoUniform()): Int32Array {
  checkVariance(variance);
  const poisson = poissonSampler(variance / 2);
  for (let i = 0; i < out.length; i++) out[i] = poisson(rng) - poisson(rng);
  return out;
}

/** `d` independent Sk(variance) draws. @throws PrivacyParameterError as `fillSkellam`. */
export function skellamNoise(d: number, variance: number): Int32Array {
  return fillSkellam(new Int32Array(d), variance);
}

/**
 * Adds independent Sk(variance) noise to each word of `values` modulo 2^32, in place: the client's
 * share of the noise, added to its quantized update before masking. Modular addition is exact,
 * so the unmasked sum (mod 2^32) equals Σ updates + Σ noise (mod 2^32).
 * @throws PrivacyParameterError as `fillSkellam`.
 */
export function addSkellamModular(
  values: Uint32Array,
  variance: number,
  rng = new CryptoUniform(),
): Uint32Array {
  checkVariance(variance);
  const poisson = poissonSampler(variance / 2);
  for (let i = 0; i < values.length; i++) values[i] = (values[i]! + poisson(rng) - poisson(rng)) >>> 0;
  return values;
}
