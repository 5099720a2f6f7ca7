import { describe, expect, it } from 'vitest';
import { PrivacyParameterError } from '../errors.ts';
import { planSkellam, type SkellamPlanInput } from './calibrate.ts';
import { wrapProbabilityBound } from './headroom.ts';
import { skellamNoise } from './skellam.ts';

const BASE: SkellamPlanInput = {
  epsilon: 8,
  delta: 1e-5,
  rounds: 20,
  clipNorm: 1,
  scale: 2 ** 14,
  dimension: 1_000_000,
  rounding: { kind: 'stochastic' },
  minNoisyClients: 4,
};

describe('modular headroom', () => {
  it('is negligible for a sensible scale and certain when the signal alone overflows', () => {
    const plan = planSkellam(BASE);
    expect(wrapProbabilityBound(plan, 5)).toBeLessThan(1e-100);
    expect(wrapProbabilityBound(planSkellam({ ...BASE, scale: 2 ** 24 }), 200)).toBe(1);
    // More clients, fewer bits: the bound only grows.
    expect(wrapProbabilityBound(plan, 5, 21)).toBeGreaterThan(0);
    expect(wrapProbabilityBound(plan, 10, 21)).toBeGreaterThan(wrapProbabilityBound(plan, 5, 21));
    expect(wrapProbabilityBound(plan, 5, 20)).toBeGreaterThan(wrapProbabilityBound(plan, 5, 21));
  });

  it('bounds the wrap frequency actually seen (noise alone, small field)', () => {
    const plan = planSkellam({
      ...BASE,
      dimension: 1,
      clipNorm: 1e-9,
      scale: 1,
      minNoisyClients: 1,
      epsilon: 2,
      rounds: 1,
    });
    // A field whose half-range is 2–4 standard deviations, so wraps really happen, then count them.
    const sd = Math.sqrt(plan.localVariance);
    const bits = Math.ceil(Math.log2(2 * sd)) + 1;
    const bound = wrapProbabilityBound(plan, 1, bits);
    const n = 50_000;
    const noise = skellamNoise(n, plan.localVariance);
    const half = 2 ** (bits - 1);
    let wraps = 0;
    for (const x of noise) if (x >= half - 2 || x < -half + 2) wraps++;
    expect(bound).toBeLessThan(1);
    expect(wraps / n).toBeLessThanOrEqual(bound);
  });

  it('refuses nonsense', () => {
    const plan = planSkellam(BASE);
    expect(() => wrapProbabilityBound(plan, 0)).toThrow(PrivacyParameterError);
    expect(() => wrapProbabilityBound(plan, 3, 64)).toThrow(PrivacyParameterError);
  });
});
