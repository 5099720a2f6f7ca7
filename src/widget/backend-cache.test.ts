import { describe, expect, it } from 'vitest';
import {
  CHOICE_CACHE_VERSION,
  CHOICE_MAX_AGE_MS,
  CHOICE_MAX_ENTRIES,
  CHOICE_STORAGE_KEY,
  choiceKey,
  readChoice,
  sizeClass,
  writeChoice,
  type CachedChoice,
  type DeviceSignature,
} from './backend-cache.ts';

class MemoryStorage {
  items = new Map<string, string>();
  refuse = false;
  getItem(k: string): string | null {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    if (this.refuse) throw new DOMException('quota', 'QuotaExceededError');
    this.items.set(k, v);
  }
}

const swiftshader: DeviceSignature = {
  adapter: 'google swiftshader',
  software: true,
  userAgent: 'Mozilla/5.0 Chrome/140',
  cores: 8,
};
const rtx: DeviceSignature = { ...swiftshader, adapter: 'nvidia ampere', software: false };
const m = (tps: number) => ({
  tokensPerSecond: tps,
  tokens: 8,
  firstTokenSeconds: 0.1,
  seconds: 0.3,
  complete: true,
});
const choice = (at: number, backend: CachedChoice['backend'] = 'wasm-cpu'): CachedChoice => ({
  backend,
  at,
  measured: { gpu: m(0.8), cpu: m(40), cpuBound: null, software: true, cached: false },
});
const T = 1_800_000_000_000;

describe('sizeClass', () => {
  it('groups model sizes by powers of two in MiB', () => {
    expect(sizeClass(4_209_248)).toBe('8MiB');
    expect(sizeClass(4 * 2 ** 20)).toBe('4MiB');
    expect(sizeClass(4 * 2 ** 20 + 1)).toBe('8MiB');
    expect(sizeClass(986e6)).toBe('1024MiB');
    expect(sizeClass(0)).toBe('1MiB');
  });
});

describe('the measured choice cache', () => {
  it('returns what was measured for the same device and size class only', () => {
    const s = new MemoryStorage();
    writeChoice(s, swiftshader, 4_209_248, choice(T));
    expect(readChoice(s, swiftshader, 4_209_248, T + 1000)).toEqual(choice(T));
    // Another model of the same size class races the same way.
    expect(readChoice(s, swiftshader, 6_000_000, T + 1000)?.backend).toBe('wasm-cpu');
    expect(readChoice(s, swiftshader, 600e6, T + 1000)).toBeNull();
    expect(readChoice(s, rtx, 4_209_248, T + 1000)).toBeNull();
    expect(readChoice(s, { ...swiftshader, userAgent: 'Mozilla/5.0 Chrome/141' }, 4_209_248, T)).toBeNull();
    expect(readChoice(s, { ...swiftshader, cores: 4 }, 4_209_248, T)).toBeNull();
  });
  it('forgets old measurements and other versions', () => {
    const s = new MemoryStorage();
    writeChoice(s, swiftshader, 4e6, choice(T));
    expect(readChoice(s, swiftshader, 4e6, T + CHOICE_MAX_AGE_MS + 1)).toBeNull();
    const stored = JSON.parse(s.getItem(CHOICE_STORAGE_KEY)!) as { v: number };
    expect(stored.v).toBe(CHOICE_CACHE_VERSION);
    s.items.set(CHOICE_STORAGE_KEY, JSON.stringify({ ...stored, v: CHOICE_CACHE_VERSION + 1 }));
    expect(readChoice(s, swiftshader, 4e6, T)).toBeNull();
  });
  it('survives broken, foreign or refusing storage', () => {
    const s = new MemoryStorage();
    s.items.set(CHOICE_STORAGE_KEY, '{not json');
    expect(readChoice(s, swiftshader, 4e6, T)).toBeNull();
    s.items.set(
      CHOICE_STORAGE_KEY,
      JSON.stringify({
        v: CHOICE_CACHE_VERSION,
        entries: { [choiceKey(swiftshader, 4e6)]: { backend: 'tpu' } },
      }),
    );
    expect(readChoice(s, swiftshader, 4e6, T)).toBeNull();
    s.refuse = true;
    expect(() => writeChoice(s, swiftshader, 4e6, choice(T))).not.toThrow();
    expect(readChoice(null, swiftshader, 4e6, T)).toBeNull();
  });
  it('keeps a bounded number of entries, dropping the oldest', () => {
    const s = new MemoryStorage();
    for (let i = 0; i < CHOICE_MAX_ENTRIES + 3; i++)
      writeChoice(s, { ...swiftshader, cores: i }, 4e6, choice(T + i));
    const entries = Object.keys((JSON.parse(s.getItem(CHOICE_STORAGE_KEY)!) as { entries: object }).entries);
    expect(entries).toHaveLength(CHOICE_MAX_ENTRIES);
    expect(readChoice(s, { ...swiftshader, cores: 0 }, 4e6, T + 100)).toBeNull();
    expect(readChoice(s, { ...swiftshader, cores: CHOICE_MAX_ENTRIES + 2 }, 4e6, T + 100)).not.toBeNull();
  });
});
