import { afterEach, describe, expect, it, vi } from 'vitest';
import { DureError } from '../engine/errors.ts';
import {
  adapterPin,
  AdapterWatcher,
  type ActiveAdapter,
  type FetchedAdapter,
  type HeldAdapter,
} from './adapter-watch.ts';

const adapter = (version: number, sha: string): FetchedAdapter => ({
  version,
  sha256: sha.repeat(64).slice(0, 64),
  etag: `"etag-${sha}"`,
  lora: { rank: 1, alpha: 1, targetModules: ['q_proj'], tensors: new Map() },
});

/**
 * A watcher on a scripted server: each poll the server's latest is the next `feed` entry, and,
 * like the real server, it answers "unchanged" (HTTP 304) when the poll names that file as held.
 */
function setup(
  feed: (FetchedAdapter | Error)[],
  busy: () => boolean = () => false,
  refuse: (a: FetchedAdapter) => boolean = () => false,
) {
  const applied: (number | null)[] = [];
  const changes: ActiveAdapter[] = [];
  const errors: string[] = [];
  const held: (HeldAdapter | null)[] = [];
  let calls = 0;
  let downloads = 0;
  const w = new AdapterWatcher({
    serverUrl: 'http://fl.example',
    taskId: 'task_x',
    intervalMs: 1000,
    fetchLatest: async (server, task, _signal, known) => {
      expect([server, task]).toEqual(['http://fl.example', 'task_x']);
      held.push(known);
      const next = feed[Math.min(calls++, feed.length - 1)]!;
      if (next instanceof Error) throw next;
      if (known?.sha256 === next.sha256) return { unchanged: true };
      downloads++;
      return next;
    },
    apply: async (a) => {
      if (refuse(a)) throw new DureError('ADAPTER_SHAPE', 'shape mismatch');
      applied.push(a.version);
    },
    busy,
    onChange: (a) => changes.push(a),
    onError: (e) => errors.push(e.code),
  });
  return { w, applied, changes, errors, held, polls: () => calls, downloads: () => downloads };
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
    expect(s.downloads()).toBe(2);
    // the failed poll did not make the watcher forget the file it holds
    expect(s.held.map((h) => h?.etag ?? null)).toEqual([null, '"etag-a"', '"etag-a"', '"etag-a"']);
  });

  it('names the held file on every poll, so an unchanged adapter is never downloaded again', async () => {
    const a = adapter(1, 'a');
    const s = setup([a, a, a, a, a, adapter(2, 'b'), adapter(2, 'b')]);
    for (let i = 0; i < 7; i++) await s.w.check();
    expect(s.polls()).toBe(7);
    expect(s.downloads()).toBe(2); // v1 once, v2 once; the other five polls were answered "unchanged"
    expect(s.applied).toEqual([1, 2]);
    expect(s.held).toEqual([
      null,
      ...Array<HeldAdapter>(5).fill({ sha256: a.sha256, etag: '"etag-a"' }),
      { sha256: adapter(2, 'b').sha256, etag: '"etag-b"' },
    ]);
  });

  it('names a held file by its SHA-256 when its ETag was unreadable', async () => {
    const { etag: _unreadable, ...a } = adapter(1, 'a');
    const s = setup([a, a]);
    await s.w.check();
    await s.w.check();
    expect(s.held[1]).toEqual({ sha256: a.sha256, etag: null });
    expect(s.downloads()).toBe(1);
  });

  it('does not fetch or retry a file the engine refused until the server has another one', async () => {
    const s = setup(
      [adapter(1, 'a'), adapter(1, 'a'), adapter(1, 'a'), adapter(2, 'b')],
      undefined,
      (x) => x.version === 1,
    );
    for (let i = 0; i < 4; i++) await s.w.check();
    expect(s.errors).toEqual(['ADAPTER_SHAPE']); // reported once, not on every unchanged poll
    expect(s.downloads()).toBe(2);
    expect(s.applied).toEqual([2]);
    expect(s.w.current).toMatchObject({ version: 2 });
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
    expect(s.downloads()).toBe(3);
    s.w.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(s.polls()).toBe(3);
  });
});

describe('adapterPin (the adapter-version attribute)', () => {
  it('follows the stable channel when empty or "stable", pins digits, and refuses anything else', () => {
    expect(['', ' stable ', 'STABLE'].map(adapterPin)).toEqual([undefined, undefined, undefined]);
    expect(['0', '12', ' 7 '].map(adapterPin)).toEqual([0, 12, 7]);
    for (const bad of ['latest', '-1', '1.5', 'v3', '1e3', '9999999999'])
      expect(() => adapterPin(bad), bad).toThrow(/adapter-version/);
  });
});
