/**
 * Exact Poisson sampling for any mean a privacy plan produces (from 0 up to ~1e15).
 *
 * - mean < 20: inversion by sequential search over the probability mass function.
 * - mean ≥ 20: PTRS, the transformed rejection method with squeeze of W. Hörmann, "The
 *   transformed rejection method for generating Poisson random variables", Insurance: Mathematics
 *   and Economics 12 (1993) 39–45. Its acceptance step compares against the Poisson pmf itself,
 *   so the output follows the Poisson law exactly (up to double rounding), not an approximation.
 *
 * The textbook acceptance test evaluates −λ + k·log λ − log k! directly; at λ ≈ 1e12 those terms are
 * ~3e13 and cancel to O(10), losing about 3e-3 in absolute log-probability. We evaluate log p(k)
 * in Loader's saddle-point form instead (C. Loader, "Fast and accurate computation of binomial
 * probabilities", 2000): log p(k) = −stirlerr(k) − bd0(k, λ) − ½·log(2πk), where both parts are
 * computed without cancellation, so the test keeps ~1e-10 absolute accuracy at any mean.
 */
import type { CryptoUniform } from './uniform.ts';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

// log(k!) for k ≤ 15, summed exactly enough in doubles (the error is ~1e-15).
const LOG_FACTORIAL_SMALL: readonly number[] = (() => {
  const t = [0];
  for (let k = 1; k <= 15; k++) t.push(t[k - 1]! + Math.log(k));
  return t;
})();

/**
 * stirlerr(k) = log(k!) − [(k + ½)·log k − k + ½·log 2π], the error of Stirling's formula.
 * Beyond 15 the asymptotic series with five terms is accurate to ~1e-16.
 */
export function stirlingError(k: number): number {
  if (k <= 15) return LOG_FACTORIAL_SMALL[k]! - ((k + 0.5) * Math.log(k) - k + HALF_LOG_2PI);
  const kk = k * k;
  return (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / 1188 / kk) / kk) / kk) / kk) / k;
}

/** bd0(x, m) = x·log(x/m) + m − x, computed by a series when x is near m (where it cancels). */
export function deviance(x: number, m: number): number {
  if (Math.abs(x - m) < 0.1 * (x + m)) {
    const v = (x - m) / (x + m);
    const v2 = v * v;
    let s = (x - m) * v;
    let ej = 2 * x * v;
    for (let j = 1; j < 1000; j++) {
      ej *= v2;
      const s1 = s + ej / (2 * j + 1);
      if (s1 === s) return s1;
      s = s1;
    }
    return s;
  }
  return x * Math.log(x / m) + m - x;
}

/** log P(X = k) for X ~ Poisson(mean), k a non-negative integer. */
export function poissonLogPmf(k: number, mean: number): number {
  if (k === 0) return -mean;
  return -stirlingError(k) - deviance(k, mean) - HALF_LOG_2PI - 0.5 * Math.log(k);
}

/**
 * Mean below which inversion is used. PTRS is valid from 10 on (Hörmann 1993), but between 10 and
 * 20 its frequent slow path (logs) costs more than inversion's ~λ multiply-adds (bench/privacy-noise.ts).
 */
const PTRS_MIN_MEAN = 20;

/** A sampler for one fixed mean, with PTRS's constants computed once. */
export interface PoissonSampler {
  (rng: CryptoUniform): number;
}

/**
 * A sampler of Poisson(mean). `mean` must be finite and ≥ 0 (the caller validates: this is a
 * building block for the Skellam sampler, which raises the typed error).
 */
export function poissonSampler(mean: number): PoissonSampler {
  if (mean === 0) return () => 0;
  if (mean < PTRS_MIN_MEAN) {
    const p0 = Math.exp(-mean);
    return (rng) => {
      // Inversion: the smallest k with F(k) > u. F is accumulated in doubles; the tail beyond
      // where F reaches 1 in double precision has mass < 1e-16 and is cut there.
      const u = rng.uniform();
      let k = 0;
      let p = p0;
      let f = p0;
      while (u >= f) {
        k++;
        p *= mean / k;
        const next = f + p;
        if (next === f) break;
        f = next;
      }
      return k;
    };
  }
  const sqrtMean = Math.sqrt(mean);
  const b = 0.931 + 2.53 * sqrtMean;
  const a = -0.059 + 0.02483 * b;
  const logInvAlpha = Math.log(1.1239 + 1.1328 / (b - 3.4));
  const vr = 0.9277 - 3.6224 / (b - 2);
  return (rng) => {
    for (;;) {
      const u = rng.uniform() - 0.5;
      const v = rng.uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
      // The squeeze: this region lies wholly under the target density.
      if (us >= 0.07 && v <= vr) return k;
      if (!(k >= 0) || !Number.isFinite(k) || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + logInvAlpha - Math.log(a / (us * us) + b) <= poissonLogPmf(k, mean)) return k;
    }
  };
}
