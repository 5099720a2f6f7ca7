import { chacha20 } from '@noble/ciphers/chacha.js';
import { describe, expect, it } from 'vitest';
import { SecAggProtocolError } from '../errors.ts';
import { defaultDegree, neighbourGraph } from './graph.ts';
import { addExpandedMaskInPlace, addMaskInPlace, expandMask } from './prg.ts';

describe('mask expansion', () => {
  it('is the ChaCha20 keystream as little-endian words, deterministic per seed', () => {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const m = expandMask(seed, 1000);
    expect(expandMask(seed, 1000)).toEqual(m);
    const ks = chacha20(seed, new Uint8Array(12), new Uint8Array(4000));
    const view = new DataView(ks.buffer);
    for (const i of [0, 1, 17, 999]) expect(m[i]).toBe(view.getUint32(4 * i, true));
    // A shorter expansion is a prefix: the server and client agree whatever d they size for.
    expect(expandMask(seed, 10)).toEqual(m.subarray(0, 10));
    expect(expandMask(crypto.getRandomValues(new Uint8Array(32)), 1000)).not.toEqual(m);
    expect(() => expandMask(new Uint8Array(16), 4)).toThrow(SecAggProtocolError);
  });

  it('adds and subtracts modulo 2^32', () => {
    const acc = Uint32Array.from([0xffffffff, 5]);
    addMaskInPlace(acc, Uint32Array.from([2, 7]), 1);
    expect([...acc]).toEqual([1, 12]);
    addMaskInPlace(acc, Uint32Array.from([2, 13]), -1);
    expect([...acc]).toEqual([0xffffffff, 0xffffffff]);
  });

  it('adds a mask expanded piece by piece exactly as the whole expansion would (both signs, odd lengths)', () => {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    // Around the 16384-word piece boundary, a partial ChaCha block, and empty.
    for (const d of [0, 1, 17, 16_384, 16_385, 40_003]) {
      const start = Uint32Array.from({ length: d }, (_, i) => (i * 2654435761) >>> 0);
      for (const sign of [1, -1] as const) {
        const whole = start.slice();
        addMaskInPlace(whole, expandMask(seed, d), sign);
        const pieces = start.slice();
        addExpandedMaskInPlace(pieces, seed, sign);
        let differ = 0;
        for (let i = 0; i < d; i++) if (whole[i] !== pieces[i]) differ++;
        expect(differ, `d = ${d}, sign ${sign}`).toBe(0);
      }
    }
    expect(() => addExpandedMaskInPlace(new Uint32Array(4), new Uint8Array(16), 1)).toThrow(
      SecAggProtocolError,
    );
  });
});

describe('neighbour graph', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `c${String(i).padStart(3, '0')}`);
  const seed = (b: number) => new Uint8Array(32).fill(b);

  it('is complete for small rounds', () => {
    const g = neighbourGraph(ids(5), defaultDegree(5), seed(1));
    for (const [id, nbrs] of g) expect(nbrs).toEqual(ids(5).filter((o) => o !== id));
  });

  it('is k-regular, symmetric and seeded for large rounds (random Harary graph)', () => {
    const n = 100;
    const k = defaultDegree(n);
    expect(k).toBeLessThan(n - 1);
    expect(k % 2).toBe(0);
    const g = neighbourGraph(ids(n), k, seed(2));
    const faults: string[] = [];
    for (const [id, nbrs] of g) {
      if (nbrs.length !== k || nbrs.includes(id) || new Set(nbrs).size !== k) faults.push(`${id} degree`);
      for (const v of nbrs) if (!g.get(v)!.includes(id)) faults.push(`${id}–${v} one-way`);
    }
    expect(g.size).toBe(n);
    expect(faults).toEqual([]);
    // Same seed and set, any input order: the same graph. Another seed: another graph.
    expect(neighbourGraph([...ids(n)].reverse(), k, seed(2))).toEqual(g);
    expect(neighbourGraph(ids(n), k, seed(3))).not.toEqual(g);
  });

  it('refuses repeated ids', () => {
    expect(() => neighbourGraph(['a', 'a', 'b'], 2, seed(0))).toThrow(
      expect.objectContaining({ code: 'SECAGG_BAD_ROSTER' }),
    );
  });
});
