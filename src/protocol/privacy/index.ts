/**
 * Client-level differential privacy for federated rounds under secure aggregation (issue #15,
 * item 3): distributed Skellam noise, its sensitivity in the integer domain, an RDP accountant and
 * a per-task budget. Pure maths over typed arrays; runs in browsers and Node; randomness comes from
 * `crypto.getRandomValues` only.
 *
 * ## Mechanism (DP-FedAvg with the distributed Skellam mechanism)
 * Agarwal, Kairouz, Liu 2021, "The Skellam Mechanism for Differentially Private Federated Learning".
 * Each client: clip its update to ‖x‖₂ ≤ C → scale by γ = 2^k → round each coordinate to an integer
 * (stochastic rounding) → add its noise share, independent Sk(μ_local) per coordinate → mask and
 * send modulo 2^32. Sk(μ) = Poisson(μ/2) − Poisson(μ/2) has variance μ, and a sum of independent
 * Skellams is exactly Skellam: s clients' shares sum to Sk(s·μ_local). The server unmasks only the sum.
 *
 * Why Skellam rather than the distributed discrete Gaussian (Kairouz, Liu, Steinke 2021): a sum of
 * discrete Gaussians is only close to a discrete Gaussian, which adds a τ·d term to the accounting
 * (small only while every share's σ stays large; d is ~1e6 for LoRA updates); the Skellam sum is
 * exactly Skellam, its RDP bound is in closed form, and the sampler needs only exact Poisson draws
 * (./poisson.ts) rather than the Canonne–Kamath–Steinke chain of rejection samplers in exact
 * rational arithmetic, which would be slow at d ≈ 1e6 in a browser.
 *
 * ## Why it survives the modular sum
 * Everything a client adds is an integer, and integer addition modulo 2^32 commutes with summing:
 * the unmasked value equals (Σ rounded updates + Σ noise) mod 2^32. The privacy guarantee is about
 * the integer sum Σ + Sk(μ); reducing it mod 2^32 is post-processing and cannot weaken it. A wrap
 * only hurts accuracy, so choose γ so that n·(γC + 1) plus a few noise standard deviations stays
 * below 2^31 per coordinate (the scale trades rounding error against wrap risk);
 * `wrapProbabilityBound` (./headroom.ts) bounds the chance that any coordinate wraps.
 *
 * ## Sensitivity (./sensitivity.ts)
 * Neighbouring rounds differ by one client's entire contribution (add/remove one client). With
 * stochastic rounding Δ2 = γC + √d; with conditional rounding (the client re-draws the rounding
 * until its norm is under a bound) Δ2 is smaller. Δ1 = Δ2·min(Δ2, √d) for an integer vector.
 *
 * ## What is assumed, and dropouts
 * - Honest clients add their share with fresh randomness and clip as told; a client that does not
 *   add noise only protects itself less, but it removes its share from everyone's protection.
 * - Secure aggregation releases a sum only when at least t clients survive (threshold t of n).
 *   Noise of dropped clients is not in the sum, so each client adds μ_local = μ / t_noisy, where
 *   t_noisy (`minNoisyClients`) = t minus the number of clients not trusted to add their share.
 *   Then any released sum carries variance s·μ_local ≥ μ (s ≥ t_noisy surviving honest shares):
 *   more survivors only means more noise, never less privacy. The accountant may record the round
 *   with the actual s (`skellamRoundRdp(plan, s)`) or with the worst case.
 * - The server is honest-but-curious and sees only the sum (that is secure aggregation's job).
 *
 * ## Accounting (./rdp.ts, ./calibrate.ts, ./budget.ts)
 * Rényi DP per round (Skellam bound above; Gaussian and Poisson-subsampled Gaussian for
 * comparison and cohort sampling), composition by adding RDP over rounds, conversion to (ε, δ) by
 * the improved bound of Canonne–Kamath–Steinke / Balle et al. 2020 over an order grid.
 * `planSkellam` finds the least central variance μ meeting (ε, δ) over the task's R rounds by
 * bisection; `PrivacyBudget` tracks ε spent and refuses another round once it would exceed ε.
 *
 * ## Parameters
 * ε, δ, rounds R — the task's target; C — L2 clip (model units); γ = 2^k — scale before rounding;
 * d — coordinates per update; t_noisy — fewest noise shares guaranteed in a released sum.
 * μ (`centralVariance`) and μ_local (`localVariance`) are variances in the scaled integer domain.
 */
export { CryptoUniform } from './uniform.ts';
export { poissonSampler, poissonLogPmf } from './poisson.ts';
export { fillSkellam, skellamNoise, addSkellamModular, MAX_SKELLAM_VARIANCE } from './skellam.ts';
export {
  integerSensitivity,
  conditionalRoundingBound,
  type Rounding,
  type QuantizationParams,
  type Sensitivity,
} from './sensitivity.ts';
export {
  GAUSSIAN_ORDERS,
  INTEGER_ORDERS,
  gaussianRdp,
  skellamRdp,
  subsampledGaussianRdp,
  epsilonFromRdp,
  deltaFromRdp,
  type EpsilonAtOrder,
} from './rdp.ts';
export {
  planSkellam,
  skellamRoundRdp,
  skellamRdpCurve,
  calibrateGaussian,
  checkTarget,
  type PrivacyTarget,
  type SkellamPlanInput,
  type SkellamPlan,
} from './calibrate.ts';
export { PrivacyBudget, type BudgetState, type BudgetLimits } from './budget.ts';
export { wrapProbabilityBound } from './headroom.ts';
