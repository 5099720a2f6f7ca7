/**
 * Sensitivity of one client's contribution in the integer domain that secure aggregation sums.
 *
 * A client clips its update x to ‖x‖₂ ≤ C, scales by γ = 2^k and rounds each coordinate to an
 * integer. Neighbouring inputs differ by one client's whole contribution (client-level DP,
 * add/remove one client), so the sensitivities are bounds on the rounded vector's norms.
 *
 * - Stochastic (unbiased randomized) rounding moves each coordinate by less than 1, so
 *   ‖round(γx)‖₂ ≤ γC + √d always (triangle inequality).
 * - Conditional randomized rounding (Kairouz, Liu, Steinke 2021, "The Distributed Discrete
 *   Gaussian Mechanism", arXiv:2102.06387, Theorem 1): the client re-draws the rounding until
 *   ‖round(γx)‖₂² ≤ γ²C² + d/4 + √(2 ln(1/β))·(γC + √d/2), which it meets with probability ≥ 1 − β
 *   per draw; the bound is then the smaller of that and γC + √d. Only valid if the client really
 *   re-draws: the caller must enforce it (see `conditionalRoundingBound`).
 * - L1: an integer vector has |v_i| ≤ v_i², so ‖v‖₁ ≤ ‖v‖₂²; always ‖v‖₁ ≤ √d·‖v‖₂.
 *   Hence Δ1 = Δ2·min(Δ2, √d).
 */
import { PrivacyParameterError } from '../errors.ts';

/** How a client rounds its scaled update to integers. */
export type Rounding = { kind: 'stochastic' } | { kind: 'conditional'; beta: number };

/** What the integer-domain sensitivity depends on. */
export interface QuantizationParams {
  /** L2 clip bound C on the client's update, in model units. */
  clipNorm: number;
  /** Scale γ (2^k) applied before rounding. */
  scale: number;
  /** Number of coordinates d. */
  dimension: number;
  rounding: Rounding;
}

/** L1 and L2 sensitivity of the integer vector one client contributes. */
export interface Sensitivity {
  l1: number;
  l2: number;
}

function checkQuantization(p: QuantizationParams): void {
  const ok =
    Number.isFinite(p.clipNorm) &&
    p.clipNorm > 0 &&
    Number.isFinite(p.scale) &&
    p.scale > 0 &&
    Number.isSafeInteger(p.dimension) &&
    p.dimension > 0 &&
    (p.rounding.kind === 'stochastic' || (p.rounding.beta > 0 && p.rounding.beta < 1));
  if (!ok) {
    throw new PrivacyParameterError(
      `invalid quantization: clip ${p.clipNorm}, scale ${p.scale}, dimension ${p.dimension}, ` +
        `rounding ${JSON.stringify(p.rounding)}`,
    );
  }
}

/**
 * The squared L2 norm a conditionally rounded vector may have (the client re-draws above it).
 * @throws PrivacyParameterError for a non-positive clip/scale/dimension or β outside (0, 1).
 */
export function conditionalRoundingBound(
  p: QuantizationParams & { rounding: { kind: 'conditional' } },
): number {
  checkQuantization(p);
  const c = p.scale * p.clipNorm;
  const d = p.dimension;
  return c * c + d / 4 + Math.sqrt(2 * Math.log(1 / p.rounding.beta)) * (c + Math.sqrt(d) / 2);
}

/**
 * Δ2 and Δ1 of one client's scaled, rounded, clipped update.
 * @throws PrivacyParameterError for a non-positive clip/scale/dimension or β outside (0, 1).
 */
export function integerSensitivity(p: QuantizationParams): Sensitivity {
  checkQuantization(p);
  const d = p.dimension;
  let l2 = p.scale * p.clipNorm + Math.sqrt(d);
  if (p.rounding.kind === 'conditional') {
    l2 = Math.min(l2, Math.sqrt(conditionalRoundingBound({ ...p, rounding: p.rounding })));
  }
  return { l2, l1: l2 * Math.min(l2, Math.sqrt(d)) };
}
