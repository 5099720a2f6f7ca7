import { describe, expect, it } from 'vitest';
import { PrivacyParameterError } from '../errors.ts';
import {
  calibrateGaussian,
  planSkellam,
  skellamRdpCurve,
  skellamRoundRdp,
  type SkellamPlanInput,
} from './calibrate.ts';
import { epsilonFromRdp } from './rdp.ts';

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

function epsilonOf(
  plan: ReturnType<typeof planSkellam>,
  variance: number,
  rounds = plan.target.rounds,
): number {
  const rdp = skellamRdpCurve(plan.orders, plan.sensitivity, variance).map((r) => r * rounds);
  return epsilonFromRdp(plan.orders, rdp, plan.target.delta).epsilon;
}

describe('Skellam calibration', () => {
  it('finds the least noise meeting the target: ε within 1 % below it, 1 % less noise misses it', () => {
    for (const target of [
      { epsilon: 8, rounds: 20 },
      { epsilon: 1, rounds: 50 },
      { epsilon: 0.3, rounds: 5 },
      { epsilon: 30, rounds: 1 },
    ]) {
      const plan = planSkellam({ ...BASE, ...target });
      expect(plan.epsilon).toBeLessThanOrEqual(target.epsilon);
      expect(plan.epsilon).toBeGreaterThan(0.99 * target.epsilon);
      expect(epsilonOf(plan, plan.centralVariance)).toBe(plan.epsilon);
      expect(epsilonOf(plan, 0.99 * plan.centralVariance)).toBeGreaterThan(target.epsilon);
    }
  });

  it('splits the central variance over the guaranteed noise shares', () => {
    const plan = planSkellam(BASE);
    expect((plan.localVariance * BASE.minNoisyClients) / plan.centralVariance).toBeCloseTo(1, 12);
    const twice = planSkellam({ ...BASE, minNoisyClients: 8 });
    expect(twice.centralVariance / plan.centralVariance).toBeCloseTo(1, 7);
    expect(twice.localVariance / plan.localVariance).toBeCloseTo(0.5, 9);
    // More survivors than guaranteed: more noise, less RDP, never more.
    const worst = skellamRoundRdp(plan);
    const more = skellamRoundRdp(plan, 7);
    expect(more.every((r, i) => r < worst[i]!)).toBe(true);
    expect(() => skellamRoundRdp(plan, 3)).toThrow(PrivacyParameterError);
  });

  it('spends more ε with more rounds and less with more noise', () => {
    const plan = planSkellam(BASE);
    let last = 0;
    for (const rounds of [1, 2, 5, 10, 20, 40, 100]) {
      const e = epsilonOf(plan, plan.centralVariance, rounds);
      expect(e).toBeGreaterThan(last);
      last = e;
    }
    last = Infinity;
    for (const f of [0.25, 0.5, 1, 2, 4, 16]) {
      const e = epsilonOf(plan, f * plan.centralVariance);
      expect(e).toBeLessThan(last);
      last = e;
    }
  });

  it('needs noise close to the Gaussian mechanism’s in the scaled domain (the discreteness price is small)', () => {
    const plan = planSkellam(BASE);
    const g = calibrateGaussian({
      epsilon: BASE.epsilon,
      delta: BASE.delta,
      rounds: BASE.rounds,
      orders: plan.orders,
    });
    const gaussianVariance = (g.noiseMultiplier * plan.sensitivity.l2) ** 2;
    expect(plan.centralVariance).toBeGreaterThanOrEqual(gaussianVariance * 0.999);
    expect(plan.centralVariance / gaussianVariance).toBeLessThan(1.05);
  });

  it('refuses invalid targets and unreachable ones with typed codes', () => {
    for (const bad of [
      { epsilon: 0 },
      { delta: 1 },
      { delta: 0 },
      { rounds: 0 },
      { rounds: 1.5 },
      { minNoisyClients: 0 },
    ]) {
      expect(() => planSkellam({ ...BASE, ...bad })).toThrow(PrivacyParameterError);
    }
    expect(() => planSkellam({ ...BASE, orders: [1.5, 2] })).toThrow(PrivacyParameterError);
    try {
      planSkellam({ ...BASE, epsilon: 1e-9, rounds: 1000 });
      expect.unreachable();
    } catch (e) {
      expect((e as PrivacyParameterError).code).toBe('PRIVACY_TARGET_UNREACHABLE');
    }
  });
});

describe('Gaussian calibration', () => {
  it('recovers dp-accounting’s z = 4.530877117 for exactly (1, 1e-6) on its fine order grid', () => {
    // google/differential-privacy dp_accounting rdp_privacy_accountant_test.py,
    // test_compute_epsilon_delta_gaussian: "noise multiplier is chosen to obtain exactly (1,1e-6)-DP".
    const orders = Array.from({ length: 99_000 }, (_, i) => 0.001 * (1000 + i));
    const { noiseMultiplier } = calibrateGaussian({ epsilon: 1, delta: 1e-6, rounds: 1, orders });
    expect(Math.abs(noiseMultiplier / 4.530877117 - 1)).toBeLessThan(1e-6);
  });

  it('with cohort sampling needs less noise than without, and hits the target within 1 %', () => {
    const full = calibrateGaussian({ epsilon: 3, delta: 1e-5, rounds: 100 });
    const sampled = calibrateGaussian({ epsilon: 3, delta: 1e-5, rounds: 100, sampleRate: 0.1 });
    expect(sampled.noiseMultiplier).toBeLessThan(full.noiseMultiplier);
    for (const r of [full, sampled]) {
      expect(r.epsilon).toBeLessThanOrEqual(3);
      expect(r.epsilon).toBeGreaterThan(2.97);
    }
    expect(() => calibrateGaussian({ epsilon: 1, delta: 1e-5, rounds: 1, sampleRate: 1.5 })).toThrow(
      PrivacyParameterError,
    );
  });
});
