import { describe, expect, it } from 'vitest';
import { PrivacyParameterError } from '../errors.ts';
import { conditionalRoundingBound, integerSensitivity } from './sensitivity.ts';

/** A random vector of L2 norm exactly `norm`, scaled, then stochastically rounded. */
function clippedScaledRounded(d: number, norm: number, scale: number): Float64Array {
  const x = Float64Array.from({ length: d }, () => Math.random() - 0.5);
  const n = Math.hypot(...x);
  return x.map((v) => {
    const y = (v / n) * norm * scale;
    const f = Math.floor(y);
    return f + (Math.random() < y - f ? 1 : 0);
  });
}

describe('integer-domain sensitivity', () => {
  it('is γC + √d for stochastic rounding, with Δ1 = Δ2·min(Δ2, √d)', () => {
    const s = integerSensitivity({
      clipNorm: 8,
      scale: 2 ** 10,
      dimension: 10_000,
      rounding: { kind: 'stochastic' },
    });
    expect(s.l2).toBe(8 * 1024 + 100);
    expect(s.l1).toBe(s.l2 * 100);
    const tiny = integerSensitivity({
      clipNorm: 1,
      scale: 1,
      dimension: 10_000,
      rounding: { kind: 'stochastic' },
    });
    expect(tiny.l1).toBe(101 * 100); // min(101, 100)
    const few = integerSensitivity({
      clipNorm: 0.5,
      scale: 1,
      dimension: 4,
      rounding: { kind: 'stochastic' },
    });
    expect(few.l1).toBe(few.l2 * Math.min(few.l2, 2));
  });

  it('bounds the norms of real rounded vectors', () => {
    const d = 300;
    for (const scale of [1, 4, 64]) {
      const s = integerSensitivity({ clipNorm: 2, scale, dimension: d, rounding: { kind: 'stochastic' } });
      for (let t = 0; t < 20; t++) {
        const v = clippedScaledRounded(d, 2, scale);
        expect(Math.hypot(...v)).toBeLessThanOrEqual(s.l2);
        expect(v.reduce((a, x) => a + Math.abs(x), 0)).toBeLessThanOrEqual(s.l1);
      }
    }
  });

  it('is tighter with conditional rounding in high dimension, and that bound is rarely exceeded (β)', () => {
    const p = { clipNorm: 1, scale: 16, dimension: 4096 } as const;
    const plain = integerSensitivity({ ...p, rounding: { kind: 'stochastic' } });
    const cond = integerSensitivity({ ...p, rounding: { kind: 'conditional', beta: Math.exp(-0.5) } });
    expect(cond.l2).toBeLessThan(plain.l2);
    const bound = conditionalRoundingBound({ ...p, rounding: { kind: 'conditional', beta: Math.exp(-0.5) } });
    expect(cond.l2).toBeCloseTo(Math.sqrt(bound), 9);
    // Kairouz–Liu–Steinke: P(‖rounded‖² > bound) ≤ β ≈ 0.61; typically far less.
    let over = 0;
    for (let t = 0; t < 50; t++) {
      const v = clippedScaledRounded(p.dimension, p.clipNorm, p.scale);
      if (v.reduce((a, x) => a + x * x, 0) > bound) over++;
    }
    expect(over / 50).toBeLessThan(0.61);
  });

  it('refuses non-positive or non-finite parameters and β outside (0, 1)', () => {
    const ok = { clipNorm: 1, scale: 2, dimension: 3, rounding: { kind: 'stochastic' } } as const;
    for (const bad of [
      { ...ok, clipNorm: 0 },
      { ...ok, scale: -1 },
      { ...ok, dimension: 1.5 },
      { ...ok, clipNorm: Infinity },
      { ...ok, rounding: { kind: 'conditional', beta: 1 } as const },
    ]) {
      expect(() => integerSensitivity(bad)).toThrow(PrivacyParameterError);
    }
  });
});
