import { describe, expect, it } from 'vitest';
import { PrivacyParameterError } from '../errors.ts';
import { addSkellamModular, fillSkellam, skellamNoise } from './skellam.ts';

function moments(xs: ArrayLike<number>): { mean: number; variance: number; kurtosis: number } {
  const n = xs.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i]!;
  const mean = s / n;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = xs[i]! - mean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m4 /= n;
  return { mean, variance: m2, kurtosis: m4 / (m2 * m2) - 3 };
}

describe('Skellam noise', () => {
  // Sk(μ) has mean 0 and variance μ; the standard error of the sample variance is
  // μ·√((2 + 1/μ)/n) (excess kurtosis 1/μ), so 5 standard errors bound a correct sampler.
  for (const mu of [0.5, 30, 1e12]) {
    it(`has mean 0 and variance μ for μ = ${mu}`, () => {
      const n = 100_000;
      const { mean, variance } = moments(skellamNoise(n, mu));
      expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(mu / n));
      expect(Math.abs(variance / mu - 1)).toBeLessThan(5 * Math.sqrt((2 + 1 / mu) / n));
    });
  }

  it('sums n clients’ Sk(μ/n) shares into noise of variance μ (and Skellam kurtosis 1/μ)', () => {
    const n = 5;
    const mu = 12;
    const d = 100_000;
    const sum = new Float64Array(d);
    for (let c = 0; c < n; c++) {
      const share = skellamNoise(d, mu / n);
      for (let i = 0; i < d; i++) sum[i]! += share[i]!;
    }
    const { mean, variance, kurtosis } = moments(sum);
    expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(mu / d));
    expect(Math.abs(variance / mu - 1)).toBeLessThan(5 * Math.sqrt((2 + 1 / mu) / d));
    // Excess kurtosis of Sk(μ) is 1/μ ≈ 0.083; its standard error here is about √(24/d) ≈ 0.016.
    expect(Math.abs(kurtosis - 1 / mu)).toBeLessThan(0.08);
    // Not just any noise with that variance: the sum takes every integer value near 0.
    const seen = new Set(Array.from(sum.subarray(0, 5000)));
    for (let k = -3; k <= 3; k++) expect(seen.has(k)).toBe(true);
  });

  it('survives the modular sum: Σ (update + share) mod 2^32 read as signed is Σ update + Σ share', () => {
    const clients = 4;
    const d = 20_000;
    const variance = 1e6;
    const total = new Uint32Array(d);
    const plainSum = new Float64Array(d);
    for (let c = 0; c < clients; c++) {
      const update = new Int32Array(d);
      for (let i = 0; i < d; i++) update[i] = ((i * 7919 + c * 104729) % 2001) - 1000;
      const words = Uint32Array.from(update, (v) => v >>> 0);
      addSkellamModular(words, variance);
      for (let i = 0; i < d; i++) {
        total[i] = (total[i]! + words[i]!) >>> 0;
        plainSum[i]! += update[i]!;
      }
    }
    const noise = Float64Array.from(total, (w, i) => (w | 0) - plainSum[i]!);
    const { mean, variance: v } = moments(noise);
    expect(noise.every(Number.isInteger)).toBe(true);
    expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt((clients * variance) / d));
    expect(Math.abs(v / (clients * variance) - 1)).toBeLessThan(5 * Math.sqrt(2 / d));
  });

  it('refuses a variance that is negative, not finite or too large, with a typed error', () => {
    for (const bad of [-1, NaN, Infinity, 1e16]) {
      expect(() => fillSkellam(new Int32Array(1), bad)).toThrow(PrivacyParameterError);
      expect(() => addSkellamModular(new Uint32Array(1), bad)).toThrow(PrivacyParameterError);
    }
    expect(Array.from(skellamNoise(4, 0))).toEqual([0, 0, 0, 0]);
  });
});
