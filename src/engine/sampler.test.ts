import { describe, expect, it } from 'vitest';
import { Sampler } from './sampler.ts';

const logits = Float32Array.from([1, 3, 2, 0.5, 2.9, -1]);

function histogram(s: Sampler, n: number): number[] {
  const h = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) h[s.sample(logits)]!++;
  return h;
}

describe('Sampler', () => {
  it('greedy and temperature 0 take the argmax', () => {
    expect(new Sampler({ greedy: true }).sample(logits)).toBe(1);
    expect(new Sampler({ temperature: 0 }).sample(logits)).toBe(1);
  });

  it('is reproducible with a seed and differs across seeds', () => {
    const a = histogram(new Sampler({ temperature: 1, seed: 7, topK: 0 }), 200);
    const b = histogram(new Sampler({ temperature: 1, seed: 7, topK: 0 }), 200);
    const c = histogram(new Sampler({ temperature: 1, seed: 8, topK: 0 }), 200);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('top-k keeps only the k most likely tokens', () => {
    const h = histogram(new Sampler({ temperature: 1, topK: 2, seed: 1 }), 500);
    expect(h.filter((c) => c > 0).length).toBe(2);
    expect(h[1]! + h[4]!).toBe(500);
  });

  it('top-p keeps the smallest set reaching p; min-p drops tokens far below the best', () => {
    // At T = 1: p(1) ≈ 0.40, p(4) ≈ 0.36, p(2) ≈ 0.15. Top-p 0.5 needs tokens 1 and 4, nothing else.
    const p = histogram(new Sampler({ temperature: 1, topK: 0, topP: 0.5, seed: 3 }), 500);
    expect(p[1]! + p[4]!).toBe(500);
    // Min-p 0.5 keeps p ≥ 0.20: tokens 1 and 4 again (token 2 is below).
    const m = histogram(new Sampler({ temperature: 1, topK: 0, minP: 0.5, seed: 4 }), 500);
    expect(m[1]! + m[4]!).toBe(500);
  });

  it('low temperature sharpens, high temperature flattens', () => {
    const cold = histogram(new Sampler({ temperature: 0.1, topK: 0, seed: 5 }), 400);
    const hot = histogram(new Sampler({ temperature: 5, topK: 0, seed: 5 }), 400);
    expect(cold[1]!).toBeGreaterThan(hot[1]!);
    expect(hot.filter((c) => c > 0).length).toBeGreaterThan(cold.filter((c) => c > 0).length);
  });

  it('repetition penalty pushes recent tokens down', () => {
    const s = new Sampler({ greedy: true, repetitionPenalty: 2 });
    // 3 → 1.5 for token 1, so token 4 (2.9) wins.
    expect(s.sample(logits, [1])).toBe(4);
    expect(logits[1]).toBe(3); // the caller's logits are not modified
  });
});
