import { describe, expect, it } from 'vitest';
import { deviance, poissonLogPmf, poissonSampler, stirlingError } from './poisson.ts';
import { CryptoUniform } from './uniform.ts';

function logFactorial(k: number): number {
  let s = 0;
  for (let i = 2; i <= k; i++) s += Math.log(i);
  return s;
}

// Upper χ² quantile at p ≈ 1e-6 (z = 4.75) by Wilson–Hilferty: a correct sampler fails this
// about once in a million runs.
function chiSquareLimit(df: number): number {
  const z = 4.75;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

/** χ² statistic of `n` draws against Poisson(mean), cells merged until each expects ≥ 20. */
function chiSquare(mean: number, n: number): { stat: number; df: number } {
  const rng = new CryptoUniform();
  const draw = poissonSampler(mean);
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const k = draw(rng);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const lo = Math.max(0, Math.floor(mean - 8 * Math.sqrt(mean) - 5));
  const hi = Math.ceil(mean + 8 * Math.sqrt(mean) + 10);
  let stat = 0;
  let df = -1;
  let obs = 0;
  let exp = 0;
  // Both tails go into the first and last cells.
  for (const [k, c] of counts) if (k < lo || k > hi) obs += c;
  exp +=
    n *
    (1 -
      Array.from({ length: hi - lo + 1 }, (_, i) => Math.exp(poissonLogPmf(lo + i, mean))).reduce(
        (a, b) => a + b,
      ));
  for (let k = lo; k <= hi; k++) {
    obs += counts.get(k) ?? 0;
    exp += n * Math.exp(poissonLogPmf(k, mean));
    if (exp >= 20 || k === hi) {
      stat += (obs - exp) ** 2 / Math.max(exp, 1e-9);
      df++;
      obs = 0;
      exp = 0;
    }
  }
  return { stat, df };
}

describe('Poisson probability mass', () => {
  it('matches the direct formula −λ + k·log λ − log k! where that is accurate', () => {
    for (const mean of [0.5, 3, 12.5, 50, 400]) {
      for (const k of [0, 1, 2, 7, 15, 16, 40, 120, 399, 800]) {
        const direct = -mean + k * Math.log(mean) - logFactorial(k);
        expect(Math.abs(poissonLogPmf(k, mean) - direct), `k ${k} λ ${mean}`).toBeLessThan(
          1e-9 * Math.max(1, Math.abs(direct)),
        );
      }
    }
    expect(
      Math.abs(
        stirlingError(16) - (logFactorial(16) - (16.5 * Math.log(16) - 16 + 0.5 * Math.log(2 * Math.PI))),
      ),
    ).toBeLessThan(1e-13);
    expect(deviance(5, 5)).toBe(0);
  });

  it('sums to 1 at a large mean (λ = 1e12), where the direct formula loses ~1e-3', () => {
    const mean = 1e12;
    const sd = 1e6;
    const stride = 97;
    let sum = 0;
    for (let k = mean - 12 * sd; k <= mean + 12 * sd; k += stride)
      sum += stride * Math.exp(poissonLogPmf(k, mean));
    expect(Math.abs(sum - 1)).toBeLessThan(1e-6);
  });
});

describe('exact Poisson sampler', () => {
  // Inversion below 20, PTRS from 20: goodness of fit on both paths and at the switch.
  for (const mean of [0.7, 3, 19.99, 20, 45, 1e4]) {
    it(`fits Poisson(${mean}) by a χ² test on 60 000 draws`, () => {
      const { stat, df } = chiSquare(mean, 60_000);
      expect(df).toBeGreaterThan(2);
      expect(stat).toBeLessThan(chiSquareLimit(df));
    });
  }

  it('has mean and variance λ at λ = 5e11 (a share of μ = 1e12), within 5 standard errors', () => {
    const mean = 5e11;
    const n = 100_000;
    const draw = poissonSampler(mean);
    const rng = new CryptoUniform();
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = draw(rng) - mean; // centred: exact in doubles
      s += x;
      s2 += x * x;
    }
    const m = s / n;
    const v = s2 / n - m * m;
    expect(Math.abs(m)).toBeLessThan(5 * Math.sqrt(mean / n));
    expect(Math.abs(v / mean - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it('returns only non-negative integers and 0 for mean 0', () => {
    const rng = new CryptoUniform();
    expect(poissonSampler(0)(rng)).toBe(0);
    for (const mean of [0.01, 11, 1e9]) {
      const draw = poissonSampler(mean);
      const draws = Array.from({ length: 1000 }, () => draw(rng));
      expect(draws.every((k) => Number.isSafeInteger(k) && k >= 0)).toBe(true);
    }
  });
});

describe('crypto uniforms', () => {
  it('are in [0, 1) with mean ½ and variance 1/12', () => {
    const rng = new CryptoUniform();
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      if (!(u >= 0 && u < 1)) outside++;
      s += u;
      s2 += u * u;
    }
    expect(outside).toBe(0);
    expect(Math.abs(s / n - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(s2 / n - (s / n) ** 2 - 1 / 12)).toBeLessThan(0.002);
  });
});
