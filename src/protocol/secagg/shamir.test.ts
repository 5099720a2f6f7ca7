import { describe, expect, it } from 'vitest';
import { ShamirError } from '../errors.ts';
import {
  SHAMIR_PRIME,
  combineShares,
  decodeShareValue,
  encodeShareValue,
  splitSecret,
  type Share,
} from './shamir.ts';

const secret = () => crypto.getRandomValues(new Uint8Array(32));

function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [head, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [head!, ...s]), ...subsets(rest, k)];
}

describe('Shamir sharing over 2^521 − 1', () => {
  it('any t of n shares reconstruct the secret (every subset of 5 choose 3, in any order)', () => {
    const s = secret();
    const shares = splitSecret(s, 3, [1, 2, 3, 4, 5]);
    const all = subsets(shares, 3);
    expect(all).toHaveLength(10);
    for (const subset of all) {
      expect(combineShares(subset, 3)).toEqual(s);
      expect(combineShares([...subset].reverse(), 3)).toEqual(s);
    }
    // More than t shares also reconstruct (and are checked against each other).
    expect(combineShares(shares, 3)).toEqual(s);
  });

  it('t − 1 shares reveal nothing: interpolating them does not give the secret', () => {
    const s = secret();
    const shares = splitSecret(s, 3, [1, 2, 3, 4, 5]);
    for (const pair of subsets(shares, 2)) {
      let got: Uint8Array | undefined;
      try {
        got = combineShares(pair, 2); // pretend the threshold were 2
      } catch (e) {
        expect(e).toBeInstanceOf(ShamirError); // the line through 2 points lands outside 2^256
      }
      if (got) expect(got).not.toEqual(s);
    }
  });

  it('refuses too few shares with a typed error', () => {
    const shares = splitSecret(secret(), 3, [1, 2, 3]);
    expect(() => combineShares(shares.slice(0, 2), 3)).toThrow(
      expect.objectContaining({ code: 'SHAMIR_TOO_FEW_SHARES' }),
    );
  });

  it('catches any altered share among more than t, and a garbled one among exactly t', () => {
    const shares = splitSecret(secret(), 3, [1, 2, 3, 4]);
    // Off by one: invisible among exactly t (no redundancy), caught as soon as a 4th share disagrees.
    const offByOne: Share[] = shares.map((sh, i) =>
      i === 3 ? { x: sh.x, y: (sh.y + 1n) % SHAMIR_PRIME } : sh,
    );
    expect(() => combineShares(offByOne, 3)).toThrow(
      expect.objectContaining({ code: 'SHAMIR_INCONSISTENT' }),
    );
    // Garbled (random bytes, as a corrupted or forged share would be): the result is no 32-byte secret.
    const garbled = decodeShareValue(
      crypto.getRandomValues(new Uint8Array(66)).map((b, i) => (i === 0 ? b & 1 : b)),
    );
    const bad = [shares[0]!, shares[1]!, { x: shares[2]!.x, y: garbled }];
    expect(() => combineShares(bad, 3)).toThrow(expect.objectContaining({ code: 'SHAMIR_INCONSISTENT' }));
  });

  it('refuses repeated or zero indices and impossible thresholds', () => {
    expect(() => splitSecret(secret(), 2, [1, 1, 2])).toThrow(
      expect.objectContaining({ code: 'SHAMIR_PARAMS' }),
    );
    expect(() => splitSecret(secret(), 2, [0, 1, 2])).toThrow(ShamirError);
    expect(() => splitSecret(secret(), 4, [1, 2, 3])).toThrow(
      expect.objectContaining({ code: 'SHAMIR_PARAMS' }),
    );
    const shares = splitSecret(secret(), 2, [1, 2, 3]);
    expect(() => combineShares([shares[0]!, { ...shares[0]! }], 2)).toThrow(ShamirError);
  });

  it('round-trips share values through their 66-byte encoding and rejects non-field values', () => {
    const [share] = splitSecret(secret(), 1, [7]);
    expect(decodeShareValue(encodeShareValue(share!.y))).toBe(share!.y);
    expect(() => decodeShareValue(encodeShareValue(SHAMIR_PRIME))).toThrow(ShamirError);
    expect(() => decodeShareValue(new Uint8Array(65))).toThrow(ShamirError);
  });

  it('uses fresh random coefficients: the same secret splits differently each time', () => {
    const s = secret();
    const a = splitSecret(s, 3, [1, 2, 3]);
    const b = splitSecret(s, 3, [1, 2, 3]);
    expect(a[0]!.y).not.toBe(b[0]!.y);
  });
});
