/**
 * Rényi differential privacy (Mironov 2017, "Rényi Differential Privacy") of the mechanisms Dure
 * uses, and conversion to (ε, δ). Each function gives ε_RDP at one order α; composition over rounds
 * is addition at each order, and the (ε, δ) guarantee is the best over a grid of orders.
 */

/**
 * Orders for the Gaussian mechanism: fractional below 11 (where small ε lands), then integers,
 * then sparse large ones (for very small ε). Same shape as dp-accounting's default grid.
 */
export const GAUSSIAN_ORDERS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 53 }, (_, i) => 11 + i),
  ...[64, 80, 96, 128, 160, 192, 256, 384, 512, 768, 1024, 2048, 4096],
];

/** Integer orders: the Skellam bound and the exact subsampled-Gaussian sum hold for integer α only. */
export const INTEGER_ORDERS: readonly number[] = [
  ...Array.from({ length: 63 }, (_, i) => 2 + i),
  ...[72, 80, 88, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 768, 1024, 1536, 2048, 3072, 4096],
];

/** Gaussian mechanism, L2 sensitivity Δ, noise standard deviation σ: ε(α) = α·Δ²/(2σ²). */
export function gaussianRdp(alpha: number, l2Sensitivity: number, stddev: number): number {
  return (alpha * l2Sensitivity * l2Sensitivity) / (2 * stddev * stddev);
}

/**
 * Skellam mechanism (Agarwal, Kairouz, Liu 2021, Theorem 3.5 / Corollary 3.6, in the form the
 * authors' accounting code uses), for integer α > 1, an integer-valued query with L2 and L1
 * sensitivities Δ2, Δ1 and symmetric Skellam noise of variance μ per coordinate:
 *
 *   ε(α) ≤ α·Δ2²/(2μ) + min( ((2α − 1)·Δ2² + 6·Δ1) / (4μ²),  3·Δ1/(2μ) ).
 *
 * The first term is the Gaussian mechanism's with σ² = μ; the second is the price of discreteness,
 * which vanishes as μ grows (the scaled integer domain makes μ large).
 */
export function skellamRdp(
  alpha: number,
  l2Sensitivity: number,
  l1Sensitivity: number,
  variance: number,
): number {
  const d2 = l2Sensitivity * l2Sensitivity;
  const mu = variance;
  return (
    (alpha * d2) / (2 * mu) +
    Math.min(((2 * alpha - 1) * d2 + 6 * l1Sensitivity) / (4 * mu * mu), (3 * l1Sensitivity) / (2 * mu))
  );
}

// log(k!) for the integers the binomial sums need, grown on demand.
const logFactorials: number[] = [0];
function logFactorial(k: number): number {
  for (let i = logFactorials.length; i <= k; i++) logFactorials.push(logFactorials[i - 1]! + Math.log(i));
  return logFactorials[k]!;
}

/**
 * Poisson-subsampled Gaussian with sampling rate q and noise multiplier z = σ/Δ, for integer α
 * (Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism",
 * §3.3): ε(α) = log A_α / (α − 1) with
 *   A_α = Σ_{k=0..α} C(α, k)·(1 − q)^{α−k}·q^k·exp((k² − k)/(2z²)),
 * summed in log space. Add/remove-one neighbouring relation.
 */
export function subsampledGaussianRdp(alpha: number, sampleRate: number, noiseMultiplier: number): number {
  const q = sampleRate;
  if (q === 0) return 0;
  if (q === 1) return alpha / (2 * noiseMultiplier * noiseMultiplier);
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const inv2z2 = 1 / (2 * noiseMultiplier * noiseMultiplier);
  const terms: number[] = [];
  let max = -Infinity;
  for (let k = 0; k <= alpha; k++) {
    const t =
      logFactorial(alpha) -
      logFactorial(k) -
      logFactorial(alpha - k) +
      (alpha - k) * log1mQ +
      k * logQ +
      (k * k - k) * inv2z2;
    terms.push(t);
    if (t > max) max = t;
  }
  let sum = 0;
  for (const t of terms) sum += Math.exp(t - max);
  return (max + Math.log(sum)) / (alpha - 1);
}

/** The best (ε, δ) conversion over the orders, with the order that achieved it. */
export interface EpsilonAtOrder {
  epsilon: number;
  order: number;
}

/**
 * ε for a target δ from an RDP curve, by the improved conversion (Canonne, Kamath, Steinke 2020,
 * Prop. 12; Balle et al. 2020, Thm. 21), as dp-accounting computes it:
 *   ε = min_α [ ε_RDP(α) + log((α − 1)/α) − (log δ + log α)/(α − 1) ], floored at 0,
 * and ε = 0 outright when δ ≥ √(1 − e^−ε_RDP(α)) for some α.
 */
export function epsilonFromRdp(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
): EpsilonAtOrder {
  let best: EpsilonAtOrder = { epsilon: Infinity, order: NaN };
  const logDelta = Math.log(delta);
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const r = rdp[i]!;
    if (!(r < Infinity) || a <= 1) continue;
    // RDP at any order bounds the KL divergence, and total variation ≤ √(1 − e^−KL)
    // (Bretagnolle–Huber), so δ ≥ that gives (0, δ)-DP; dp-accounting takes the same shortcut.
    if (delta * delta + Math.expm1(-r) >= 0) return { epsilon: 0, order: a };
    const eps = r + Math.log1p(-1 / a) - (logDelta + Math.log(a)) / (a - 1);
    if (eps < best.epsilon) best = { epsilon: eps, order: a };
  }
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

/** δ for a given ε: the same conversion solved for δ (the inverse of `epsilonFromRdp`), capped at 1. */
export function deltaFromRdp(orders: readonly number[], rdp: readonly number[], epsilon: number): number {
  let best = 0; // log δ, capped at log 1
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const r = rdp[i]!;
    if (!(r < Infinity) || a <= 1) continue;
    const logDelta = (a - 1) * (r - epsilon + Math.log1p(-1 / a)) - Math.log(a);
    if (logDelta < best) best = logDelta;
  }
  return Math.exp(best);
}
