import { afterEach, describe, expect, it, vi } from 'vitest';
import { DureError } from '../engine/errors.ts';
import { AdapterWatcher, type ActiveAdapter, type FetchedAdapter } from './adapter-watch.ts';

const adapter = (version: number, sha: string): FetchedAdapter => ({
  version,
  sha256: sha.repeat(64).slice(0, 64),
  lora: { rank: 1, alpha: 1, targetModules: ['q_proj'], tensors: new Map() },
});

function setup(feed: (FetchedAdapter | Error)[], busy: () => boolean = () => false) {
  const applied: (number | null)[] = [];
  const changes: ActiveAdapter[] = [];
  const errors: string[] = [];
  let calls = 0;
  const w = new AdapterWatcher({
    serverUrl: 'http://fl.example',
    taskId: 'task_x',
    intervalMs: 1000,
    fetchLatest: async (server, task) => {
      expect([server, task]).toEqual(['http://fl.example', 'task_x']);
      const next = feed[Math.min(calls++, feed.length - 1)]!;
      if (next instanceof Error) throw next;
      return next;
    },
    apply: async (a) => void applied.push(a.version),
    busy,
    onChange: (a) => changes.push(a),
    onError: (e) => errors.push(e.code),
  });
  return { w, applied, changes, errors, polls: () => calls };
}

afterEach(() => vi.useRealTimers());

describe('AdapterWatcher', () => {
  it('applies each new file once and keeps the current one when a poll fails', async () => {
    const s = setup([adapter(1, 'a'), adapter(1, 'a'), new DureError('NETWORK', 'down'), adapter(2, 'b')]);
    for (let i = 0; i < 4; i++) await s.w.check();
    expect(s.applied).toEqual([1, 2]);
    expect(s.changes.map((c) => c.version)).toEqual([1, 2]);
    expect(s.errors).toEqual(['NETWORK']);
    expect(s.w.current).toMatchObject({ taskId: 'task_x', version: 2 });
  });

  it('waits for the answer being written before swapping', async () => {
    vi.useFakeTimers();
    let busy = true;
    const s = setup([adapter(3, 'c')], () => busy);
    const p = s.w.check();
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.applied).toEqual([]);
    busy = false;
    await vi.advanceTimersByTimeAsync(250);
    await p;
    expect(s.applied).toEqual([3]);
  });

  it('polls on an interval until stopped', async () => {
    vi.useFakeTimers();
    const s = setup([adapter(1, 'a'), adapter(2, 'b'), adapter(3, 'c')]);
    s.w.start();
    await vi.advanceTimersByTimeAsync(2500);
    expect(s.polls()).toBe(3);
    expect(s.applied).toEqual([1, 2, 3]);
    s.w.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(s.polls()).toBe(3);
  });
});
