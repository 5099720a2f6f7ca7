import { describe, expect, it } from 'vitest';
import { PrivacyBudgetExhaustedError, PrivacyParameterError } from '../errors.ts';
import { planSkellam, skellamRoundRdp } from './calibrate.ts';
import { PrivacyBudget } from './budget.ts';

const plan = planSkellam({
  epsilon: 4,
  delta: 1e-5,
  rounds: 12,
  clipNorm: 2,
  scale: 2 ** 12,
  dimension: 200_000,
  rounding: { kind: 'stochastic' },
  minNoisyClients: 3,
});

describe('privacy budget', () => {
  it('allows exactly the planned rounds at worst case, then refuses with a typed error', () => {
    const budget = PrivacyBudget.forSkellam(plan);
    expect(budget.epsilonSpent()).toBe(0);
    expect(budget.epsilonLeft()).toBe(4);
    expect(budget.roundsLeft()).toBe(12);
    let last = 0;
    for (let r = 1; r <= 12; r++) {
      expect(budget.canRunAnotherRound()).toBe(true);
      budget.assertCanRunAnotherRound();
      budget.recordRound();
      expect(budget.roundsRun).toBe(r);
      expect(budget.epsilonSpent()).toBeGreaterThan(last);
      expect(budget.roundsLeft()).toBe(12 - r);
      last = budget.epsilonSpent();
    }
    expect(budget.epsilonSpent()).toBeCloseTo(plan.epsilon, 9);
    expect(budget.epsilonLeft()).toBeLessThan(0.04);
    expect(budget.canRunAnotherRound()).toBe(false);
    expect(() => budget.assertCanRunAnotherRound()).toThrow(PrivacyBudgetExhaustedError);
  });

  it('spends less when more noise shares reached the sum, so more rounds fit', () => {
    const budget = PrivacyBudget.forSkellam(plan);
    for (let r = 0; r < 12; r++) budget.recordRound(skellamRoundRdp(plan, 6));
    expect(budget.epsilonSpent()).toBeLessThan(plan.epsilon);
    expect(budget.canRunAnotherRound()).toBe(true);
    expect(budget.roundsLeft()).toBeGreaterThan(0);
  });

  it('resumes from its saved state', () => {
    const a = PrivacyBudget.forSkellam(plan);
    for (let r = 0; r < 5; r++) a.recordRound();
    const saved = JSON.parse(JSON.stringify(a));
    const b = PrivacyBudget.forSkellam(plan, saved);
    expect(b.roundsRun).toBe(5);
    expect(b.epsilonSpent()).toBe(a.epsilonSpent());
    expect(b.roundsLeft()).toBe(7);
  });

  it('always records a released round, even past the budget', () => {
    const budget = PrivacyBudget.forSkellam(plan);
    for (let r = 0; r < 14; r++) budget.recordRound();
    expect(budget.roundsRun).toBe(14);
    expect(budget.epsilonSpent()).toBeGreaterThan(4);
    expect(budget.epsilonLeft()).toBe(0);
    expect(budget.roundsLeft()).toBe(0);
  });

  it('refuses curves that do not fit its orders and invalid limits', () => {
    expect(() => new PrivacyBudget({ epsilon: 1, delta: 1e-5 }, [2, 3], [0.1])).toThrow(
      PrivacyParameterError,
    );
    expect(() => new PrivacyBudget({ epsilon: 0, delta: 1e-5 }, [2], [0.1])).toThrow(PrivacyParameterError);
    const b = new PrivacyBudget({ epsilon: 1, delta: 1e-5 }, [2, 3], [0.1, 0.2]);
    expect(() => b.recordRound([1])).toThrow(PrivacyParameterError);
    expect(new PrivacyBudget({ epsilon: 1, delta: 1e-5 }, [2, 3], [0, 0]).roundsLeft()).toBe(Infinity);
  });
});
