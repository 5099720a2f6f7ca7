import { describe, expect, it } from 'vitest';
import {
  GAUSSIAN_ORDERS,
  INTEGER_ORDERS,
  deltaFromRdp,
  epsilonFromRdp,
  gaussianRdp,
  skellamRdp,
  subsampledGaussianRdp,
} from './rdp.ts';

// Reference numbers marked "dp-accounting" come from google/differential-privacy,
// python/dp_accounting/rdp/rdp_privacy_accountant_test.py (the library's own tests).

describe('RDP to (ε, δ) conversion', () => {
  it('matches dp-accounting on pure DP: RDP 1.1 at orders 2..32, δ = 1e-5 → ε = 1.32783806176 at order 32', () => {
    // dp-accounting test_compute_epsilon_delta_pure_dp
    const orders = Array.from({ length: 31 }, (_, i) => 2 + i);
    const rdp = orders.map(() => 1.1);
    const { epsilon, order } = epsilonFromRdp(orders, rdp, 1e-5);
    expect(epsilon).toBeCloseTo(1.32783806176, 9);
    expect(order).toBe(32);
    expect(deltaFromRdp(orders, rdp, 1.32783806176)).toBeCloseTo(1e-5, 12);
  });

  it('matches dp-accounting on the Gaussian: z = 4.530877117 gives exactly (1, 1e-6) on a fine order grid', () => {
    // dp-accounting test_compute_epsilon_delta_gaussian: orders 0.001·i for i in [1000, 100000)
    const orders = Array.from({ length: 99_000 }, (_, i) => 0.001 * (1000 + i));
    const rdp = orders.map((a) => gaussianRdp(a, 1, 4.530877117));
    expect(epsilonFromRdp(orders, rdp, 1e-6).epsilon).toBeCloseTo(1, 6);
    expect(deltaFromRdp(orders, rdp, 1) / 1e-6).toBeCloseTo(1, 4);
    // The coarser default grid can only be more conservative, and not by much.
    const coarse = epsilonFromRdp(
      GAUSSIAN_ORDERS,
      GAUSSIAN_ORDERS.map((a) => gaussianRdp(a, 1, 4.530877117)),
      1e-6,
    );
    expect(coarse.epsilon).toBeGreaterThanOrEqual(1 - 1e-9);
    expect(coarse.epsilon).toBeLessThan(1.01);
  });

  it('matches the Gaussian RDP of dp-accounting (α = 3.14159, σ = 2.71828 → α/(2σ²)) and scales with Δ²', () => {
    // dp-accounting test_compute_rdp_gaussian
    expect(gaussianRdp(3.14159, 1, 2.71828)).toBeCloseTo(3.14159 / (2 * 2.71828 ** 2), 14);
    expect(gaussianRdp(3, 2, 2)).toBeCloseTo(4 * gaussianRdp(3, 1, 2), 14);
  });

  it('stays under the classical Gaussian tail bound δ ≤ exp(−(ε − ½)²/2) at σ = 1', () => {
    // dp-accounting test_delta_bounds_gaussian (the "standard" upper bound part)
    const orders = Array.from({ length: 495 }, (_, i) => 0.1 * (10 + i));
    const rdp = orders.map((a) => gaussianRdp(a, 1, 1));
    for (let e = 0.5; e < 50; e += 0.1) {
      expect(deltaFromRdp(orders, rdp, e)).toBeLessThanOrEqual(Math.exp(-0.5 * (e - 0.5) ** 2) + 1e-300);
    }
  });

  it('is ε = 0 with no spending and refuses nothing at infinite RDP orders', () => {
    expect(epsilonFromRdp([2, 3], [0, 0], 1e-9).epsilon).toBe(0);
    // δ ≥ √(1 − e^−RDP) is (0, δ)-DP through the KL bound; just below it the RDP conversion applies.
    expect(epsilonFromRdp([2], [1e-4], 0.0101).epsilon).toBe(0);
    expect(epsilonFromRdp([2], [1e-4], 0.0099).epsilon).toBeGreaterThan(0);
    expect(epsilonFromRdp([2, 3], [Infinity, 1], 1e-5).order).toBe(3);
    expect(epsilonFromRdp([2], [Infinity], 1e-5).epsilon).toBe(Infinity);
  });
});

describe('subsampled Gaussian RDP (Mironov, Talwar, Zhang 2019)', () => {
  it('matches dp-accounting: q = 0.01, z = 2.5, 50 steps at orders 5, 50, 100', () => {
    // dp-accounting test_compute_rdp_poisson_sampled_gaussian (the integer orders of its table)
    const expected: [number, number][] = [
      [5, 2.1808e-3],
      [50, 2.3846e-2],
      [100, 1.6742e2],
    ];
    for (const [alpha, value] of expected) {
      const got = 50 * subsampledGaussianRdp(alpha, 0.01, 2.5);
      expect(Math.abs(got - value) / value, `order ${alpha}`).toBeLessThan(1e-4);
    }
  });

  it('is the plain Gaussian at q = 1, zero at q = 0, and never more than the plain Gaussian', () => {
    expect(subsampledGaussianRdp(7, 1, 1.3)).toBeCloseTo(gaussianRdp(7, 1, 1.3), 12);
    expect(subsampledGaussianRdp(7, 0, 1.3)).toBe(0);
    for (const a of [2, 10, 64]) {
      for (const q of [0.001, 0.1, 0.9, 0.999999]) {
        expect(subsampledGaussianRdp(a, q, 1.1)).toBeLessThanOrEqual(gaussianRdp(a, 1, 1.1) * (1 + 1e-12));
      }
    }
  });
});

describe('Skellam RDP (Agarwal, Kairouz, Liu 2021)', () => {
  it('is the Gaussian bound plus a non-negative discreteness term that vanishes as the variance grows', () => {
    const d = 1_000_000;
    for (const scale of [2 ** 4, 2 ** 10, 2 ** 16]) {
      const l2 = scale + Math.sqrt(d);
      const l1 = l2 * Math.min(l2, Math.sqrt(d));
      const variance = (1.2 * l2) ** 2; // noise multiplier 1.2
      for (const a of [2, 16, 256]) {
        const sk = skellamRdp(a, l2, l1, variance);
        const g = gaussianRdp(a, l2, Math.sqrt(variance));
        expect(sk).toBeGreaterThan(g);
        // The discreteness surcharge is at most 3Δ1/(2μ) …
        expect(sk - g).toBeLessThanOrEqual((3 * l1) / (2 * variance) + 1e-15);
      }
      // … and negligible once μ ≫ Δ2².
      const far = skellamRdp(8, l2, l1, 1e6 * l2 * l2);
      expect(far / gaussianRdp(8, l2, 1e3 * l2) - 1).toBeLessThan(1e-5);
    }
  });

  it('agrees with the authors’ scale-free parametrisation (unscaled Δ and variance, scale s)', () => {
    // distributed_dp/accounting_utils.py (google-research/federated) evaluates the same bound with
    // unscaled sensitivities and central variance and an explicit scale s; both must agree.
    const s = 2 ** 12;
    const [l2u, l1u, varU] = [1.3, 40, 2.2];
    for (const a of [2, 3, 30, 300]) {
      const theirs =
        (a / (2 * varU)) * l2u ** 2 +
        Math.min(
          ((2 * a - 1) * s * l2u ** 2 + 6 * l1u) / (4 * s ** 3 * varU ** 2),
          (3 * l1u) / (2 * s * varU),
        );
      expect(skellamRdp(a, s * l2u, s * l1u, s * s * varU) / theirs).toBeCloseTo(1, 12);
    }
  });

  it('uses integer orders only on its grid', () => {
    expect(INTEGER_ORDERS.every((a) => Number.isInteger(a) && a >= 2)).toBe(true);
  });
});
