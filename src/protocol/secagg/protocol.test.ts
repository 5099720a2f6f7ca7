/**
 * Whole rounds of the SecAgg+ protocol between in-memory clients and the pure server functions,
 * every message passed through JSON as it would travel. Prepare / execute / assert.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { toBase64Url } from '../base64url.ts';
import { SecAggCryptoError } from '../errors.ts';
import { SecAggClient } from './client.ts';
import { DEFAULT_QUANTIZATION, dequantizeSum, quantize, type QuantizationParams } from './quantize.ts';
import {
  canonicalMessageBytes,
  decodeVector,
  type MaskedInput,
  type Roster,
  type ShareDelivery,
  type UnmaskRequest,
} from './schemas.ts';
import { MaskedSumAccumulator, buildRoster, routeShares, unmaskRequest, unmaskSum } from './server.ts';
import { encodeShareValue, splitSecret } from './shamir.ts';
import { chiSquareTopByte, pearson } from '../../testing/statistics.ts';

const ROUND = 'round-7';
const wire = <T>(m: T): T => JSON.parse(JSON.stringify(m)) as T;

interface Setup {
  clients: SecAggClient[];
  roster: Roster;
  ids: string[];
}

function setup(
  n: number,
  d: number,
  threshold?: number,
  quantization?: QuantizationParams,
  degree?: number,
): Setup {
  const ids = Array.from({ length: n }, (_, i) => `hospital-${String(i + 1).padStart(2, '0')}`);
  const clients = ids.map((id) => new SecAggClient(ROUND, id));
  const advertisements = clients.map((c) => wire(c.advertiseKeys()));
  const roster = buildRoster({
    roundId: ROUND,
    advertisements,
    vectorLength: d,
    threshold,
    quantization,
    degree,
  });
  return { clients, roster, ids };
}

/** d random words (getRandomValues fills at most 64 KiB per call). */
function randomWords(d: number): Uint32Array {
  const out = new Uint32Array(d);
  for (let i = 0; i < d; i += 16384) crypto.getRandomValues(out.subarray(i, i + 16384));
  return out;
}

/** Random signed integers in ±2^20, as quantized LoRA deltas would be. */
function randomQuantized(d: number): Uint32Array {
  const r = randomWords(d);
  return r.map((v) => ((v % 2 ** 21) - 2 ** 20) >>> 0);
}

/** Word-for-word equality (vitest's deep equality is slow on 2^18-element typed arrays). */
function expectSameWords(a: Uint32Array, b: Uint32Array): void {
  expect(a.length).toBe(b.length);
  let differ = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
  expect(differ).toBe(0);
}

function plainSum(vectors: Uint32Array[]): Uint32Array {
  const out = new Uint32Array(vectors[0]!.length);
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i] = (out[i]! + v[i]!) >>> 0;
  return out;
}

interface Drops {
  /** Never send their shares (drop in phase 2). */
  beforeShares?: number[];
  /** Share keys, then send no masked input (drop in phase 3). */
  beforeMask?: number[];
  /** Send their masked input, then never answer the unmask request (drop in phase 4). */
  beforeUnmask?: number[];
}

/** Runs a full round with the given drop-outs; returns the server's result and who counts. */
function runRound(s: Setup, inputs: Uint32Array[], drops: Drops = {}) {
  const out = (list?: number[]) => new Set(list ?? []);
  const [b2, b3, b4] = [out(drops.beforeShares), out(drops.beforeMask), out(drops.beforeUnmask)];
  const shareMsgs = s.clients.flatMap((c, i) => (b2.has(i) ? [] : [wire(c.shareKeys(wire(s.roster)))]));
  const routed = routeShares(s.roster, shareMsgs);
  const deliveryOf = new Map(routed.deliveries.map((d) => [d.clientId, d]));
  const maskers = s.clients.map((_, i) => i).filter((i) => !b2.has(i) && !b3.has(i));
  const masked = maskers.map((i) =>
    wire(s.clients[i]!.maskInput(wire(deliveryOf.get(s.ids[i]!)), inputs[i]!)),
  );
  const request = unmaskRequest(
    s.roster,
    routed.shared,
    masked.map((m) => m.clientId),
  );
  const responses = maskers.filter((i) => !b4.has(i)).map((i) => wire(s.clients[i]!.unmask(wire(request))));
  const result = unmaskSum({ roster: s.roster, shared: routed.shared, maskedInputs: masked, responses });
  return { result, maskers, masked, request, routed, responses };
}

describe('SecAgg+ rounds', () => {
  it('(i) a client that stops after every phase and resumes from its exported state (JSON) keeps the sum exact', () => {
    const s = setup(4, 40);
    const revive = () => {
      s.clients[0] = SecAggClient.restore(wire(s.clients[0]!.exportState()));
    };
    revive();
    const inputs = s.ids.map(() => randomQuantized(40));
    const shares = s.clients.map((c, i) => {
      const m = wire(c.shareKeys(wire(s.roster)));
      if (i === 0) revive();
      return m;
    });
    const routed = routeShares(s.roster, shares);
    const masked = s.clients.map((c, i) => {
      const m = wire(c.maskInput(wire(routed.deliveries.find((d) => d.clientId === s.ids[i])!), inputs[i]!));
      if (i === 0) revive();
      return m;
    });
    const request = unmaskRequest(s.roster, routed.shared, s.ids);
    const responses = s.clients.map((c) => wire(c.unmask(wire(request))));
    const result = unmaskSum({ roster: s.roster, shared: routed.shared, maskedInputs: masked, responses });
    expectSameWords(result.sum, plainSum(inputs));
    expect(s.clients[0]!.phase).toBe('done');
    // A state whose roster is of another round is refused, not half-used.
    const fresh = setup(3, 8);
    fresh.clients[0]!.shareKeys(wire(fresh.roster));
    const state = wire(fresh.clients[0]!.exportState());
    expect(() => SecAggClient.restore({ ...state, roster: { ...state.roster!, roundId: 'other' } })).toThrow(
      expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE' }),
    );
  });

  it('(a) n = 5, t = 3, everyone survives: the sum is exactly the sum of the quantized inputs', () => {
    const s = setup(5, 257);
    expect(s.roster.threshold).toBe(3);
    const inputs = s.ids.map(() => randomQuantized(257));
    const { result, masked } = runRound(s, inputs);
    expect(result.survivors).toEqual(s.ids);
    expectSameWords(result.sum, plainSum(inputs));
    // Each upload alone is not the input.
    for (const [i, m] of masked.entries()) expect(decodeVector(m)).not.toEqual(inputs[i]);
    for (const c of s.clients) expect(c.phase).toBe('done');
  });

  it('(b) one, then two clients drop after masking (before unmask): still the exact sum of all who masked', () => {
    for (const gone of [[1], [0, 4]]) {
      const s = setup(5, 64);
      const inputs = s.ids.map(() => randomQuantized(64));
      const { result } = runRound(s, inputs, { beforeUnmask: gone });
      expect(result.survivors).toEqual(s.ids);
      expectSameWords(result.sum, plainSum(inputs));
    }
  });

  it('(c) clients that shared keys but dropped before masked input: the sum of the others, exact', () => {
    for (const gone of [[2], [0, 3]]) {
      const s = setup(5, 64);
      const inputs = s.ids.map(() => randomQuantized(64));
      const { result, request } = runRound(s, inputs, { beforeMask: gone });
      expect(request.dropped).toEqual(gone.map((i) => s.ids[i]));
      const kept = s.ids.map((_, i) => i).filter((i) => !gone.includes(i));
      expect(result.survivors).toEqual(kept.map((i) => s.ids[i]));
      expectSameWords(result.sum, plainSum(kept.map((i) => inputs[i]!)));
    }
    // Mixed: one never shares, one drops before masking, one before unmasking (n = 7, t = 4).
    const s = setup(7, 32);
    expect(s.roster.threshold).toBe(4);
    const inputs = s.ids.map(() => randomQuantized(32));
    const { result } = runRound(s, inputs, { beforeShares: [6], beforeMask: [2], beforeUnmask: [0] });
    expectSameWords(result.sum, plainSum([0, 1, 3, 4, 5].map((i) => inputs[i]!)));
  });

  it('SecAgg+ proper: a sparse neighbour graph (n = 20, k = 4, t = 3) with drops in two phases', () => {
    const s = setup(20, 32, undefined, undefined, 4);
    expect(s.roster.threshold).toBe(3);
    expect(s.roster.participants.every((p) => p.neighbours.length === 4)).toBe(true);
    const inputs = s.ids.map(() => randomQuantized(32));
    const { result, masked } = runRound(s, inputs, { beforeMask: [5], beforeUnmask: [11] });
    expect(masked).toHaveLength(19);
    expectSameWords(result.sum, plainSum(inputs.filter((_, i) => i !== 5)));
  });

  it('(d) fewer than t survivors: a typed error and nothing reconstructed', () => {
    const s = setup(5, 16);
    const inputs = s.ids.map(() => randomQuantized(16));
    expect(() => runRound(s, inputs, { beforeMask: [0, 1, 2] })).toThrow(
      expect.objectContaining({ code: 'SECAGG_TOO_FEW_SURVIVORS' }),
    );
    // Enough masked inputs but too few unmask answers: refused before any secret is rebuilt.
    const s2 = setup(5, 16);
    expect(() => runRound(s2, inputs, { beforeUnmask: [0, 1, 2] })).toThrow(
      expect.objectContaining({ code: 'SECAGG_TOO_FEW_SURVIVORS' }),
    );
    // A client refuses to answer a request naming fewer than t survivors.
    const s3 = setup(5, 16);
    const shares = s3.clients.map((c) => wire(c.shareKeys(wire(s3.roster))));
    const routed = routeShares(s3.roster, shares);
    s3.clients[0]!.maskInput(routed.deliveries[0], inputs[0]!);
    const thin: UnmaskRequest = {
      kind: 'secagg/unmask-request',
      roundId: ROUND,
      survivors: [s3.ids[0]!, s3.ids[1]!],
      dropped: s3.ids.slice(2),
    };
    expect(() => s3.clients[0]!.unmask(thin)).toThrow(
      expect.objectContaining({ code: 'SECAGG_TOO_FEW_SURVIVORS' }),
    );
  });

  it('(e) a request for both the self-mask and the mask-key share of one client is refused, for good', () => {
    const s = setup(5, 16);
    const routed = routeShares(
      s.roster,
      s.clients.map((c) => wire(c.shareKeys(wire(s.roster)))),
    );
    const victim = s.ids[3]!;
    const c0 = s.clients[0]!;
    const c0Masked = wire(c0.maskInput(routed.deliveries[0], randomQuantized(16)));
    const greedy: UnmaskRequest = {
      kind: 'secagg/unmask-request',
      roundId: ROUND,
      survivors: s.ids,
      dropped: [victim],
    };
    expect(() => c0.unmask(greedy)).toThrow(expect.objectContaining({ code: 'SECAGG_UNMASK_REFUSED' }));
    expect(c0.phase).toBe('aborted');
    // An honest-looking retry gets nothing either: the secrets are gone.
    const honest: UnmaskRequest = { ...greedy, dropped: [] };
    expect(() => c0.unmask(honest)).toThrow(expect.objectContaining({ code: 'SECAGG_OUT_OF_ORDER' }));
    // And the server never accepts a key share for a client whose masked input it holds.
    const masked = [
      c0Masked,
      ...s.clients.slice(1).map((c, i) => wire(c.maskInput(routed.deliveries[i + 1], randomQuantized(16)))),
    ];
    const answer = s.clients[1]!.unmask(honest);
    const forged = { ...answer, maskKeyShares: [{ of: victim, share: answer.selfMaskShares[0]!.share }] };
    expect(() =>
      unmaskSum({ roster: s.roster, shared: routed.shared, maskedInputs: masked, responses: [forged] }),
    ).toThrow(
      expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE', message: expect.stringContaining('unasked') }),
    );
  });

  it('refuses reconstructed mask keys that are not the advertised ones', () => {
    const s = setup(5, 8);
    const routed = routeShares(
      s.roster,
      s.clients.map((c) => wire(c.shareKeys(wire(s.roster)))),
    );
    const masked = [0, 1, 2, 3].map((i) =>
      wire(s.clients[i]!.maskInput(routed.deliveries[i], new Uint32Array(8))),
    );
    const request = unmaskRequest(
      s.roster,
      routed.shared,
      masked.map((m) => m.clientId),
    );
    const responses = [0, 1, 2, 3].map((i) => wire(s.clients[i]!.unmask(request)));
    // Colluding responders swap in consistent shares of some other 32-byte value for client 5's key.
    const fake = splitSecret(crypto.getRandomValues(new Uint8Array(32)), 3, [1, 2, 3, 4]);
    for (const [i, r] of responses.entries())
      r.maskKeyShares = [{ of: s.ids[4]!, share: toBase64Url(encodeShareValue(fake[i]!.y)) }];
    expect(() =>
      unmaskSum({ roster: s.roster, shared: routed.shared, maskedInputs: masked, responses }),
    ).toThrow(expect.objectContaining({ code: 'SECAGG_KEY_MISMATCH' }));
  });

  it('(f) a tampered or misrouted share ciphertext is a typed error', () => {
    const s = setup(4, 8);
    const routed = routeShares(
      s.roster,
      s.clients.map((c) => wire(c.shareKeys(wire(s.roster)))),
    );
    const d0: ShareDelivery = routed.deliveries[0]!;
    const flipped = wire(d0);
    const ct = flipped.shares[1]!.ciphertext;
    flipped.shares[1]!.ciphertext = (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1);
    expect(() => s.clients[0]!.maskInput(flipped, new Uint32Array(8))).toThrow(SecAggCryptoError);
    expect(s.clients[0]!.phase).toBe('shared'); // nothing consumed; the server may resend
    // Client 0's delivery handed to client 1 (relabelled): keys and AAD name another recipient.
    const misrouted = { ...wire(d0), clientId: s.ids[1]! };
    misrouted.shares = misrouted.shares.filter((x) => x.from !== s.ids[1]);
    expect(() => s.clients[1]!.maskInput(misrouted, new Uint32Array(8))).toThrow(
      expect.objectContaining({ code: 'SECAGG_DECRYPT' }),
    );
    // Senders swapped: each ciphertext claims the other's origin.
    const swapped = wire(d0);
    [swapped.shares[0]!.from, swapped.shares[1]!.from] = [swapped.shares[1]!.from, swapped.shares[0]!.from];
    expect(() => s.clients[0]!.maskInput(swapped, new Uint32Array(8))).toThrow(
      expect.objectContaining({ code: 'SECAGG_DECRYPT' }),
    );
    // The genuine delivery still works afterwards.
    expect(() => s.clients[0]!.maskInput(d0, new Uint32Array(8))).not.toThrow();
  });

  it('refuses out-of-order calls and rosters that are not what the client advertised', () => {
    const c = new SecAggClient(ROUND, 'solo');
    expect(() => c.shareKeys({})).toThrow(expect.objectContaining({ code: 'SECAGG_OUT_OF_ORDER' }));
    c.advertiseKeys();
    expect(() => c.advertiseKeys()).toThrow(expect.objectContaining({ code: 'SECAGG_OUT_OF_ORDER' }));
    expect(() => c.maskInput({}, new Uint32Array(1))).toThrow(
      expect.objectContaining({ code: 'SECAGG_OUT_OF_ORDER' }),
    );

    const s = setup(4, 8);
    const tamperedKey = wire(s.roster);
    tamperedKey.participants[0]!.maskKey = tamperedKey.participants[1]!.encryptionKey;
    expect(() => s.clients[0]!.shareKeys(tamperedKey)).toThrow(
      expect.objectContaining({ code: 'SECAGG_BAD_ROSTER' }),
    );
    const isolated = wire(s.roster);
    isolated.participants[0]!.neighbours = isolated.participants[0]!.neighbours.slice(0, 1);
    expect(() => s.clients[0]!.shareKeys(isolated)).toThrow(
      expect.objectContaining({ code: 'SECAGG_BAD_ROSTER' }),
    );
    const lowThreshold = { ...wire(s.roster), threshold: 2 }; // 2 of 4 holders is no majority
    expect(() => s.clients[0]!.shareKeys(lowThreshold)).toThrow(
      expect.objectContaining({ code: 'SECAGG_BAD_ROSTER' }),
    );
    expect(() => s.clients[0]!.shareKeys({ ...wire(s.roster), extra: 1 })).toThrow(
      expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE' }),
    );
    expect(s.clients[0]!.phase).toBe('advertised');
  });

  it('gives canonical bytes to sign: key order does not matter, content does', () => {
    const s = setup(3, 4);
    const r = s.roster;
    const reordered = Object.fromEntries(Object.entries(r).reverse()) as Roster;
    expect(canonicalMessageBytes(reordered)).toEqual(canonicalMessageBytes(r));
    expect(canonicalMessageBytes({ ...r, threshold: 3 })).not.toEqual(canonicalMessageBytes(r));
    expect(new TextDecoder().decode(canonicalMessageBytes(r))).toMatch(/^DURE-SECAGG-V1\n\{"degree":2,/);
  });

  it('(g) a masked upload (d = 2^18) is uniform on Z_2^32 and uncorrelated with its plaintext', () => {
    const d = 2 ** 18;
    const s = setup(3, d);
    // A realistic plaintext: LoRA-delta-sized values (sd 0.01) quantized at 2^20.
    const deltas = Float32Array.from({ length: d }, (_, i) => 0.01 * Math.sin(i * 0.7) * Math.cos(i * 0.013));
    const plain = quantize(deltas, s.roster.quantization);
    const inputs = [plain, randomQuantized(d), randomQuantized(d)];
    const { masked, result } = runRound(s, inputs);
    expectSameWords(result.sum, plainSum(inputs));
    const upload = decodeVector(masked[0]! as MaskedInput);

    // Chi-square of the top byte over 256 bins (df = 255, expected 1024 per bin). Critical value at
    // α = 1e-6 by Wilson–Hilferty: df·(1 − 2/(9df) + z·√(2/(9df)))³ with z = 4.753, ≈ 377.
    const df = 255;
    const z = 4.753;
    const critical = df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
    const chiMasked = chiSquareTopByte(upload);
    const chiPlain = chiSquareTopByte(plain);
    // Pearson correlation: under independence r ~ N(0, 1/√d) = 0.00195, so 0.01 is 5.1 sd
    // (false alarm ≈ 3e-7), while any leak of the plaintext into the upload would show.
    const corr = pearson;
    const plainSigned = Int32Array.from(plain, (v) => v | 0);
    const rSigned = corr(upload, plainSigned);
    const rUnsigned = corr(upload, plain);
    console.info(
      `masked upload, d=${d}: chi2=${chiMasked.toFixed(1)} (critical ${critical.toFixed(1)}; plaintext ${chiPlain.toFixed(0)}), ` +
        `corr with plaintext signed=${rSigned.toFixed(5)} unsigned=${rUnsigned.toFixed(5)}`,
    );
    expect(chiPlain).toBeGreaterThan(critical); // the test can tell a plaintext apart
    expect(chiMasked).toBeLessThan(critical);
    expect(Math.abs(rSigned)).toBeLessThan(0.01);
    expect(Math.abs(rUnsigned)).toBeLessThan(0.01);
    expect(Math.abs(corr(plain, plainSigned))).toBeGreaterThan(0.01); // and the measure can see a link
  });

  it('(h) end to end with float deltas and dummy DP noise: the mean is within the quantization bound', () => {
    const n = 5;
    const d = 20_000;
    const quantization = { ...DEFAULT_QUANTIZATION, maxClients: 512, noiseBound: 16 };
    const s = setup(n, d, undefined, quantization);
    const deltas = s.ids.map(() => Float32Array.from(randomWords(d), (r) => (r / 2 ** 32 - 0.5) * 0.2));
    // Dummy integer noise that cancels across clients (stands in for Skellam / discrete Gaussian).
    const noise = s.ids.map((_, i) => new Int32Array(d).fill(i === 0 ? 16 : -4));
    const inputs = deltas.map((x, i) => quantize(x, quantization, { noise: noise[i] }));
    const { result } = runRound(s, inputs, { beforeMask: [4] });
    const kept = [0, 1, 2, 3];
    expectSameWords(result.sum, plainSum(kept.map((i) => inputs[i]!)));
    const noiseSum = 16 - 4 * 3; // what the kept clients' noise adds per coordinate (in steps)
    const sum = dequantizeSum(result.sum, kept.length, quantization);
    // Bound: each client's stochastic rounding is off by < 2^-k, so the mean of m clients is off by
    // < 2^-k; float32 storage of the sum adds at most half an ulp of |sum| (≤ 2^-24·|sum|), over m.
    const step = 2 ** -quantization.scaleBits;
    let worst = 0;
    let bias = 0;
    for (let j = 0; j < d; j++) {
      let truth = 0;
      for (const i of kept) truth += deltas[i]![j]!;
      truth /= kept.length;
      const got = (sum[j]! - noiseSum * step) / kept.length;
      const err = got - truth;
      const bound = step + (2 ** -24 * Math.abs(sum[j]!)) / kept.length;
      worst = Math.max(worst, Math.abs(err) / bound);
      bias += err;
    }
    bias /= d;
    console.info(
      `end to end: worst |error| = ${worst.toFixed(3)} of the bound 2^-20, mean error ${bias.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(1);
    // Unbiased: each rounding error has sd ≤ step/2, so the average over d·m of them is within 6 sd.
    expect(Math.abs(bias)).toBeLessThan((6 * step) / 2 / Math.sqrt(d * kept.length));
  });
});

// A real collection, so the memory test can count what is still alive after each step.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('streaming unmask (issue #19 item 5: server memory independent of the number of clients)', () => {
  it('adds vectors one at a time, in any order, and unmasks to the very bits of unmaskSum, with drop-outs', () => {
    // 40 003 words: the masks are re-expanded in 16 384-word pieces, so this crosses two piece
    // boundaries and ends in a partial ChaCha block.
    const d = 40_003;
    const s = setup(6, d);
    const inputs = s.ids.map(() => randomQuantized(d));
    const { result, masked, request, responses, routed } = runRound(s, inputs, {
      beforeMask: [2],
      beforeUnmask: [4],
    });
    const acc = new MaskedSumAccumulator(s.roster, routed.shared);
    for (const m of [...masked].reverse()) acc.add(m.clientId, decodeVector(m));
    expect(acc.survivors).toEqual(request.survivors);
    const streamed = acc.unmask(responses, request.survivors);
    expect(streamed.survivors).toEqual(result.survivors);
    expectSameWords(streamed.sum, result.sum);
    expectSameWords(streamed.sum, plainSum([0, 1, 3, 4, 5].map((i) => inputs[i]!)));
  });

  it('takes each survivor exactly once, of the right length, and unmasks only the sum it was asked for', () => {
    const d = 64;
    const s = setup(5, d);
    const inputs = s.ids.map(() => randomQuantized(d));
    const { masked, request, responses, routed } = runRound(s, inputs, { beforeMask: [3] });
    const vectors = masked.map((m) => ({ id: m.clientId, v: decodeVector(m) }));
    const acc = new MaskedSumAccumulator(s.roster, routed.shared);
    acc.add(vectors[0]!.id, vectors[0]!.v);
    const bad = expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE' });
    expect(() => acc.add(vectors[0]!.id, vectors[0]!.v)).toThrow(bad); // twice
    expect(() => acc.add(vectors[1]!.id, vectors[1]!.v.subarray(1))).toThrow(bad); // short
    expect(() => acc.add('stranger', vectors[1]!.v)).toThrow(bad); // never shared keys
    expect(() => acc.addMessage({ ...masked[0]!, roundId: 'other' })).toThrow(bad);
    for (const { id, v } of vectors.slice(1, -1)) acc.add(id, v);
    // One survivor's input is missing: refused before any secret is rebuilt, nothing consumed.
    expect(() => acc.unmask(responses, request.survivors)).toThrow(
      expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE', message: expect.stringContaining('missing') }),
    );
    acc.addMessage(masked.at(-1));
    expect(() => acc.unmask(responses, [...request.survivors, s.ids[3]!])).toThrow(bad);
    expectSameWords(acc.unmask(responses, request.survivors).sum, plainSum(inputs.filter((_, i) => i !== 3)));
    // Single use: the sum is no longer masked.
    const spent = expect.objectContaining({ code: 'SECAGG_OUT_OF_ORDER' });
    expect(() => acc.unmask(responses)).toThrow(spent);
    expect(() => acc.add(vectors[0]!.id, vectors[0]!.v)).toThrow(spent);
  });

  it('never keeps a masked vector: what stays alive after each add is at most the one in hand', () => {
    // Prepare: 6 clients of 2^18 words (1 MiB each); masked vectors come from a generator, made
    // only when asked for, so nothing but the accumulator could keep the earlier ones alive.
    const d = 2 ** 18;
    const bytes = d * 4;
    const s = setup(6, d, undefined, undefined, 2);
    const routed = routeShares(
      s.roster,
      s.clients.map((c) => wire(c.shareKeys(wire(s.roster)))),
    );
    const plain = new Uint32Array(d);
    const maskOne = (i: number) => {
      const input = randomQuantized(d);
      addInto(plain, input);
      const m = s.clients[i]!.maskInput(routed.deliveries[i], input);
      return { id: m.clientId, vector: decodeVector(m) };
    };
    function* maskedVectors() {
      for (let i = 0; i < s.clients.length; i++) yield maskOne(i);
    }
    const live = () => {
      // Twice: V8 frees dead ArrayBuffers' memory by a sweep that may still be running after one
      // collection (on a busy machine it was: 6 vectors counted), and the next one finishes it.
      gc();
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    const acc = new MaskedSumAccumulator(s.roster, routed.shared);
    const base = live();

    // The meter can see hoarding: keeping two vectors shows as two vectors.
    const hoard = [randomWords(d), randomWords(d)];
    expect(live() - base).toBeGreaterThanOrEqual(2 * bytes);
    hoard.length = 0;

    // Execute: add each vector as it comes, measuring what is still alive with it in hand. (In a
    // function of its own, so that its frame, which holds the last vector, is gone afterwards.)
    const feed = () => {
      let worst = 0;
      for (const { id, vector } of maskedVectors()) {
        acc.add(id, vector);
        worst = Math.max(worst, live() - base);
      }
      return worst;
    };
    const worst = feed();
    const request = unmaskRequest(s.roster, routed.shared, s.ids);
    const result = acc.unmask(
      s.clients.map((c) => wire(c.unmask(wire(request)))),
      request.survivors,
    );
    const after = live() - base;
    console.info(
      `streaming unmask, ${s.ids.length} × ${bytes / 2 ** 20} MiB: at most ${(worst / 2 ** 20).toFixed(2)} MiB ` +
        `alive beside the sum while adding, ${(after / 2 ** 20).toFixed(2)} MiB after unmasking`,
    );

    // Assert: exact, never more than the one vector in hand (a quarter vector of slack), and
    // nothing at all once the vectors are added.
    expectSameWords(result.sum, plain);
    expect(worst).toBeLessThan(bytes * 1.25);
    expect(after).toBeLessThan(bytes / 4);
  });
});

function addInto(acc: Uint32Array, v: Uint32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + v[i]!) >>> 0;
}
