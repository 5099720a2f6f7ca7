import { describe, expect, it } from 'vitest';
import { PacedEngine } from '../testing/paced-engine.ts';
import { cpuDecodeBound, cpuReadBytesPerSecond, measureDecode, summarise } from './backend-measure.ts';

describe('measureDecode', () => {
  it('measures the decode rate without the first token, greedily, and resets the engine', async () => {
    const e = new PacedEngine(40, 10);
    const m = await measureDecode(e, { deadlineMs: 2000, maxTokens: 6 });
    expect(m.complete).toBe(true);
    expect(m.tokens).toBe(6);
    // 5 steps of ~10 ms: about 100 tok/s (timers are late, never early; a loaded CI machine is slow).
    expect(m.tokensPerSecond).toBeGreaterThan(10);
    expect(m.tokensPerSecond).toBeLessThanOrEqual(101);
    expect(m.firstTokenSeconds).toBeGreaterThanOrEqual(0.039);
    // Asked as the widget asks: a chat message, greedy.
    expect(e.requests[0]).toMatchObject({ greedy: true, maxTokens: 6, messages: [{ role: 'user' }] });
    expect(e.resets).toBe(1);
    // The engine was released (a second run does not find it busy).
    await measureDecode(e, { deadlineMs: 500, maxTokens: 2 });
  });
  it('cuts a slow engine off at its deadline and reports an upper bound', async () => {
    const e = new PacedEngine(5, 3000);
    const t = performance.now();
    const m = await measureDecode(e, { deadlineMs: 150, maxTokens: 8 });
    expect(performance.now() - t).toBeLessThan(2000);
    expect(m.complete).toBe(false);
    expect(m.tokens).toBe(1);
    // "At most one token in the ~0.15 s after the first": an upper bound, so at least the 0.33 tok/s
    // it really makes, and far below what a complete run would claim.
    expect(m.tokensPerSecond).toBeGreaterThan(1 / 3);
    expect(m.tokensPerSecond).toBeLessThan(10);
    expect(e.busy).toBe(false);
  });
  it('stops a challenger at its decode budget', async () => {
    const e = new PacedEngine(5, 400);
    const m = await measureDecode(e, { deadlineMs: 4000, decodeBudgetMs: 60, maxTokens: 8 });
    expect(m.complete).toBe(false);
    expect(m.tokens).toBe(1);
  });
});

describe('summarise', () => {
  it('says "slower than one token in the time" when none came', () => {
    const m = summarise({ t0: 0, first: -1, last: -1, end: 2000, tokens: 0, firstChunkTokens: 0, cut: true });
    expect(m).toMatchObject({ tokens: 0, complete: false, tokensPerSecond: 0.5 });
  });
  it('uses the whole run when the text ended after one chunk', () => {
    const m = summarise({
      t0: 0,
      first: 500,
      last: 500,
      end: 510,
      tokens: 1,
      firstChunkTokens: 1,
      cut: false,
    });
    expect(m).toMatchObject({ complete: true, tokensPerSecond: 2 });
  });
});

describe('cpuDecodeBound', () => {
  it('is the streaming rate over half the file, with SIMD headroom', () => {
    // 10 GB/s, 1 GB file: 2 × 10 / 0.5 = 40 tok/s at most.
    expect(cpuDecodeBound(10e9, 1e9)).toBeCloseTo(40);
    expect(cpuDecodeBound(10e9, 1e9, 4)).toBeCloseTo(160);
    expect(cpuDecodeBound(10e9, 0)).toBe(Infinity);
  });
  it('measures a plausible JavaScript read rate', () => {
    const bw = cpuReadBytesPerSecond();
    expect(bw).toBeGreaterThan(1e8);
    expect(bw).toBeLessThan(1e12);
  });
});
