/**
 * Start-up never waits forever: a probe worker whose script does not load, or that never answers,
 * becomes "no WebGPU here" (the CPU path then runs), and the worker is ended either way.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GpuUnavailableError } from '../protocol/errors.ts';

/** Stands in for a Worker: takes messages, answers none (a script that hangs or never loaded). */
class SilentWorker extends EventTarget {
  terminated = false;
  postMessage(): void {}
  terminate(): void {
    this.terminated = true;
  }
}
let current: SilentWorker;
vi.mock('../../workers/spawn.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../workers/spawn.ts')>()),
  spawnGpuProbeWorker: () => (current = new SilentWorker()) as unknown as Worker,
}));

const { loadTimeoutMs, probeWebGpu } = await import('./runtime.ts');

afterEach(() => vi.useRealTimers());

describe('probeWebGpu', () => {
  it('returns an error at once when the probe worker script fails to load (its error event)', async () => {
    const pending = probeWebGpu(60_000);
    current.dispatchEvent(new Event('error'));
    const r = await pending;
    expect(r).toBeInstanceOf(GpuUnavailableError);
    expect((r as Error).message).toMatch(/probe worker could not start/);
    expect(current.terminated).toBe(true);
  });

  it('gives up after its timeout when the worker never answers', async () => {
    const started = performance.now();
    const r = await probeWebGpu(100);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(r).toBeInstanceOf(GpuUnavailableError);
    expect((r as Error).message).toMatch(/did not answer within 0.1 s/);
    expect(current.terminated).toBe(true);
  });
});

describe('loadTimeoutMs', () => {
  it('is a minute plus a second per 2 MB', () => {
    expect(loadTimeoutMs(0)).toBe(60_000);
    expect(loadTimeoutMs(4_209_248)).toBe(63_000);
    expect(loadTimeoutMs(1e9)).toBe(560_000);
  });
});
