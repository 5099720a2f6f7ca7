/**
 * The SecAgg+ neighbour graph (Bell et al. 2020, §3): instead of every pair of clients masking and
 * sharing with each other (quadratic work), each client works with k neighbours in a random
 * k-regular graph. We use their construction, a Harary graph H(k, n) over a random permutation:
 * clients are placed on a ring in an order drawn from a public seed and each is joined to the
 * k/2 nearest on either side. When n is small (k ≥ n − 1) the graph is complete: everyone is
 * everyone's neighbour, which is the original SecAgg.
 *
 * The seed is public and travels in the roster, so each client recomputes the graph and refuses a
 * roster whose neighbour lists differ (the server cannot quietly isolate a client).
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { SecAggProtocolError } from '../errors.ts';
import { expandMask } from './prg.ts';

/** Below this many clients every client neighbours every other (complete graph). */
export const COMPLETE_GRAPH_UP_TO = 16;

/**
 * The neighbour count used for n clients: all others up to {@link COMPLETE_GRAPH_UP_TO} clients,
 * then the even number nearest above 6·log2(n) (Bell et al. show Θ(log n) suffices; 6·log2 n is a
 * conservative constant for the tens to hundreds of institutions Dure expects: 40 at n = 100).
 */
export function defaultDegree(n: number): number {
  if (n <= COMPLETE_GRAPH_UP_TO) return n - 1;
  return Math.min(n - 1, 2 * Math.ceil(3 * Math.log2(n)));
}

/** The degree a graph over n clients really has: k rounded up to even, at most n − 1. */
export function effectiveDegree(n: number, degree: number): number {
  if (!Number.isInteger(degree) || degree < 1)
    throw new SecAggProtocolError(
      `neighbour degree must be a positive integer, got ${degree}`,
      'SECAGG_BAD_ROSTER',
    );
  return Math.min(n - 1, degree + (degree % 2));
}

/** A uniform integer in [0, m) from a stream of uint32 words, by rejection sampling. */
function uniformBelow(next: () => number, m: number): number {
  const limit = Math.floor(4294967296 / m) * m;
  for (;;) {
    const r = next();
    if (r < limit) return r % m;
  }
}

/**
 * The neighbour lists of `ids` (any order; the graph depends only on the set, the degree and the
 * seed). Lists are sorted by id.
 * @throws {SecAggProtocolError} SECAGG_BAD_ROSTER for a bad degree, duplicate ids or fewer than 2.
 */
export function neighbourGraph(
  ids: readonly string[],
  degree: number,
  seed: Uint8Array,
): Map<string, string[]> {
  const sorted = [...ids].sort();
  const n = sorted.length;
  if (n < 2 || new Set(sorted).size !== n)
    throw new SecAggProtocolError(
      'a neighbour graph needs at least two distinct clients',
      'SECAGG_BAD_ROSTER',
    );
  const k = effectiveDegree(n, degree);
  const graph = new Map<string, string[]>();
  if (k >= n - 1) {
    for (const id of sorted)
      graph.set(
        id,
        sorted.filter((o) => o !== id),
      );
    return graph;
  }
  // Fisher–Yates over the sorted ids with words of ChaCha20 keystream under a key derived from the seed.
  const key = hkdf(sha256, seed, undefined, new TextEncoder().encode('DURE-SECAGG-V1|neighbour-graph'), 32);
  let words = expandMask(key, 2 * n);
  let used = 0;
  const next = () => {
    // Rejections are rare (each under 2^-22); if the words run out, the same keystream continues.
    if (used === words.length) words = expandMask(key, 2 * words.length);
    return words[used++]!;
  };
  const ring = [...sorted];
  for (let i = n - 1; i > 0; i--) {
    const j = uniformBelow(next, i + 1);
    [ring[i], ring[j]] = [ring[j]!, ring[i]!];
  }
  const half = k / 2;
  for (let p = 0; p < n; p++) {
    const mine: string[] = [];
    for (let s = 1; s <= half; s++) mine.push(ring[(p + s) % n]!, ring[(p - s + n) % n]!);
    graph.set(ring[p]!, mine.sort());
  }
  return graph;
}
