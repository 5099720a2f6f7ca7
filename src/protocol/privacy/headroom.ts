/**
 * Will the noisy sum fit the secure-aggregation field? Wrapping modulo 2^b never weakens privacy
 * (it is post-processing) but destroys the coordinates it hits, so the scale γ must leave room for
 * the signal of every client plus the noise. This bounds the chance that any coordinate wraps.
 */
import { PrivacyParameterError } from '../errors.ts';
import type { SkellamPlan } from './calibrate.ts';

/**
 * Upper bound on P(some coordinate of the sum leaves the signed range [−2^(b−1), 2^(b−1))) when
 * `clients` clients, each with the plan's clip, scale and noise share, are summed modulo 2^b.
 *
 * Signal: a clipped, scaled, stochastically rounded coordinate has |v_j| ≤ γC + 1, so the sum's is
 * at most S = clients·(γC + 1) (every client's whole norm on one coordinate: the worst case).
 * Noise: Sk(V) with V = clients·localVariance has moment generating function exp(V(cosh s − 1)),
 * so by Chernoff P(|X| ≥ t) ≤ 2·exp(V(cosh s − 1) − s·t) at s = asinh(t/V); a union bound over
 * the d coordinates gives the result (capped at 1).
 * @throws PrivacyParameterError for a non-positive client count or modulus bits outside 2..53
 */
export function wrapProbabilityBound(plan: SkellamPlan, clients: number, modulusBits = 32): number {
  if (!(
    Number.isSafeInteger(clients) &&
    clients >= 1 &&
    Number.isInteger(modulusBits) &&
    modulusBits >= 2 &&
    modulusBits <= 53
  )) {
    throw new PrivacyParameterError(`invalid headroom query: ${clients} clients, ${modulusBits} bits`);
  }
  const q = plan.quantization;
  const signal = clients * (q.scale * q.clipNorm + 1);
  const t = 2 ** (modulusBits - 1) - 1 - signal;
  if (t <= 0) return 1;
  const v = clients * plan.localVariance;
  const s = Math.asinh(t / v);
  // cosh(s) − 1 = 2·sinh²(s/2), which keeps precision when s is small.
  const logTail = v * 2 * Math.sinh(s / 2) ** 2 - s * t;
  return Math.min(1, 2 * q.dimension * Math.exp(logTail));
}
