/**
 * The server's side of secure aggregation as pure functions (no transport, no storage): build the
 * roster, route share ciphertexts, say who survived, and unmask the sum.
 *
 * The server sees public keys, ciphertexts it cannot open, masked vectors that are uniform on
 * their own, and, at the end, for each surviving client t shares of its self-mask seed b and for
 * each dropped client t shares of its mask secret key — never both for one client, so no
 * individual input is ever unmasked; only the sum is.
 */
import { toBase64Url } from '../base64url.ts';
import { SecAggCryptoError, SecAggProtocolError } from '../errors.ts';
import { defaultDegree, effectiveDegree, neighbourGraph } from './graph.ts';
import { pairwiseMaskSeed, publicKeyOf } from './keys.ts';
import { addExpandedMaskInPlace, addMaskInPlace } from './prg.ts';
import { DEFAULT_QUANTIZATION, type QuantizationParams } from './quantize.ts';
import { checkRoster, checkThreshold } from './roster.ts';
import {
  AdvertiseKeysSchema,
  MaskedInputSchema,
  MAX_PARTICIPANTS,
  ShareKeysSchema,
  UnmaskResponseSchema,
  checkMessage,
  decodeFixed,
  decodeVector,
  type MaskedInput,
  type Roster,
  type ShareDelivery,
  type ShareKeys,
  type UnmaskRequest,
  type UnmaskResponse,
} from './schemas.ts';
import { combineShares, decodeShareValue, type Share } from './shamir.ts';

export interface RosterOptions {
  roundId: string;
  /** The advertise-keys messages that arrived in time (each validated here). */
  advertisements: readonly unknown[];
  vectorLength: number;
  /** Shares needed per secret; default a strict majority of each neighbourhood (⌊(k+1)/2⌋ + 1). */
  threshold?: number;
  /** Neighbours per client; default {@link defaultDegree}. */
  degree?: number;
  /** Public seed of the neighbour graph; default 32 fresh random bytes. */
  graphSeed?: Uint8Array;
  quantization?: QuantizationParams;
}

/**
 * Phase 1 (server): the roster every client receives — participants in id order with their keys,
 * the threshold, and the neighbour graph drawn from a public seed.
 * @throws {SecAggProtocolError} SECAGG_BAD_MESSAGE for a malformed or repeated advertisement,
 *   SECAGG_BAD_ROSTER for fewer than 2 clients or a threshold that does not fit.
 */
export function buildRoster(o: RosterOptions): Roster {
  const ads = o.advertisements.map((a) => checkMessage(AdvertiseKeysSchema, a));
  const n = ads.length;
  if (n < 2 || n > MAX_PARTICIPANTS)
    throw new SecAggProtocolError(
      `a round needs 2…${MAX_PARTICIPANTS} clients, got ${n}`,
      'SECAGG_BAD_ROSTER',
    );
  for (const a of ads)
    if (a.roundId !== o.roundId) throw new SecAggProtocolError(`${a.clientId} advertised for another round`);
  const ids = ads.map((a) => a.clientId).sort();
  if (new Set(ids).size !== n) throw new SecAggProtocolError('a client advertised twice');
  const degree = effectiveDegree(n, o.degree ?? defaultDegree(n));
  const holders = degree + 1;
  const threshold = o.threshold ?? Math.floor(holders / 2) + 1;
  checkThreshold(threshold, holders);
  const seed = o.graphSeed ?? crypto.getRandomValues(new Uint8Array(32));
  const graph = neighbourGraph(ids, degree, seed);
  const byId = new Map(ads.map((a) => [a.clientId, a]));
  const roster: Roster = {
    kind: 'secagg/roster',
    roundId: o.roundId,
    threshold,
    degree,
    graphSeed: toBase64Url(seed),
    vectorLength: o.vectorLength,
    quantization: { ...(o.quantization ?? DEFAULT_QUANTIZATION) },
    participants: ids.map((id, i) => ({
      clientId: id,
      index: i + 1,
      encryptionKey: byId.get(id)!.encryptionKey,
      maskKey: byId.get(id)!.maskKey,
      neighbours: graph.get(id)!,
    })),
  };
  checkRoster(roster); // the same checks every client will run
  return roster;
}

/** What routing the share-keys messages yields. */
export interface RoutedShares {
  /** Clients whose shares arrived (U2, in id order); the others dropped before masking. */
  shared: string[];
  /** One delivery per client in `shared`: the ciphertexts addressed to it by others in `shared`. */
  deliveries: ShareDelivery[];
}

/**
 * Phase 2 (server): routes each ciphertext to its recipient. A message must address exactly the
 * sender's neighbours, once each.
 * @throws {SecAggProtocolError} SECAGG_BAD_MESSAGE for a malformed, repeated or misaddressed message.
 */
export function routeShares(roster: Roster, messages: readonly unknown[]): RoutedShares {
  const { byId } = checkRoster(roster);
  const senders = new Map<string, ShareKeys>();
  for (const raw of messages) {
    const m = checkMessage(ShareKeysSchema, raw);
    const sender = byId.get(m.clientId);
    if (m.roundId !== roster.roundId || !sender)
      throw new SecAggProtocolError(`shares from ${m.clientId} do not belong here`);
    if (senders.has(m.clientId)) throw new SecAggProtocolError(`${m.clientId} sent its shares twice`);
    const to = m.shares.map((s) => s.to).sort();
    const expected = [...sender.neighbours].sort();
    if (to.length !== expected.length || to.some((id, i) => id !== expected[i]))
      throw new SecAggProtocolError(`${m.clientId} did not address exactly its neighbours`);
    senders.set(m.clientId, m);
  }
  const shared = [...senders.keys()].sort();
  const deliveries = shared.map((recipient): ShareDelivery => ({
    kind: 'secagg/share-delivery',
    roundId: roster.roundId,
    clientId: recipient,
    shares: shared.flatMap((from) =>
      senders
        .get(from)!
        .shares.filter((s) => s.to === recipient)
        .map((s) => ({ from, nonce: s.nonce, ciphertext: s.ciphertext })),
    ),
  }));
  return { shared, deliveries };
}

/**
 * Phase 4 (server): the request sent to every survivor: who survived (masked input arrived) and
 * who dropped after sharing keys.
 * @throws {SecAggProtocolError} SECAGG_TOO_FEW_SURVIVORS when fewer than t survive (nothing can be
 *   unmasked, and asking would only leak); SECAGG_BAD_MESSAGE if a survivor never shared keys.
 */
export function unmaskRequest(
  roster: Roster,
  shared: readonly string[],
  survivors: readonly string[],
): UnmaskRequest {
  const u2 = new Set(shared);
  for (const id of survivors)
    if (!u2.has(id)) throw new SecAggProtocolError(`${id} sent a masked input without sharing keys`);
  if (new Set(survivors).size < roster.threshold)
    throw new SecAggProtocolError(
      `${survivors.length} survivors, fewer than the threshold ${roster.threshold}`,
      'SECAGG_TOO_FEW_SURVIVORS',
    );
  const alive = new Set(survivors);
  return {
    kind: 'secagg/unmask-request',
    roundId: roster.roundId,
    survivors: [...alive].sort(),
    dropped: [...u2].filter((id) => !alive.has(id)).sort(),
  };
}

export interface UnmaskInputs {
  roster: Roster;
  /** U2 from {@link routeShares}. */
  shared: readonly string[];
  /** Masked-input messages that arrived (U3). */
  maskedInputs: readonly unknown[];
  /** Unmask responses that arrived (from survivors). */
  responses: readonly unknown[];
}

export interface UnmaskedSum {
  /** Σ of the survivors' quantized inputs (noise included) mod 2^32. */
  sum: Uint32Array;
  /** Whose inputs the sum holds, in id order. */
  survivors: string[];
}

/**
 * Phase 4 (server): adds the masked inputs, reconstructs each survivor's b and each dropped
 * client's mask key from t shares, and removes their masks — all at once, for callers that hold
 * the messages anyway; {@link MaskedSumAccumulator} is the same computation one vector at a time.
 * @throws {SecAggProtocolError} SECAGG_TOO_FEW_SURVIVORS when fewer than t survivors, or too few
 *   shares for some secret; SECAGG_BAD_MESSAGE for malformed or unexpected messages.
 * @throws {SecAggCryptoError} SECAGG_KEY_MISMATCH when a reconstructed mask key is not the advertised one.
 * @throws {ShamirError} SHAMIR_INCONSISTENT when shares disagree.
 */
export function unmaskSum(inputs: UnmaskInputs): UnmaskedSum {
  const acc = new MaskedSumAccumulator(inputs.roster, inputs.shared);
  for (const raw of inputs.maskedInputs) acc.addMessage(raw);
  return acc.unmask(inputs.responses);
}

/**
 * Phase 4 (server), streaming: masked inputs are added one at a time into a single running sum
 * mod 2^32 and need not be kept, so the server's memory is one vector of the round's length
 * whatever the number of clients (issue #19 item 5). {@link unmask} then removes the masks, each
 * re-expanded from its seed piece by piece into that sum. Addition mod 2^32 is commutative, so
 * the order of the inputs does not change a bit of the result.
 *
 * Single use: once {@link unmask} has begun removing masks the sum is no longer masked, and
 * nothing more can be added.
 */
export class MaskedSumAccumulator {
  readonly #roster: Roster;
  readonly #byId: ReturnType<typeof checkRoster>['byId'];
  readonly #u2: Set<string>;
  /** Whose masked inputs the sum holds: each exactly once. */
  readonly #added = new Set<string>();
  readonly #sum: Uint32Array;
  #spent = false;

  /**
   * @param shared U2 from {@link routeShares}: only these clients may add a masked input.
   * @throws {SecAggProtocolError} SECAGG_BAD_ROSTER for an inconsistent roster.
   */
  constructor(roster: Roster, shared: readonly string[]) {
    this.#byId = checkRoster(roster).byId;
    this.#roster = roster;
    this.#u2 = new Set(shared);
    this.#sum = new Uint32Array(roster.vectorLength);
  }

  /** Clients whose masked inputs have been added, in id order. */
  get survivors(): string[] {
    return [...this.#added].sort();
  }

  /**
   * Adds a masked-input message (validated here; its decoded vector is dropped after adding).
   * @throws {SecAggProtocolError} SECAGG_BAD_MESSAGE for a malformed, unexpected or repeated input.
   */
  addMessage(raw: unknown): void {
    const m: MaskedInput = checkMessage(MaskedInputSchema, raw);
    if (m.roundId !== this.#roster.roundId)
      throw new SecAggProtocolError(`masked input from ${m.clientId} is unexpected or repeated`);
    this.#check(m.clientId, m.length);
    this.add(m.clientId, decodeVector(m));
  }

  /**
   * Adds one client's masked vector (the binary wire form, already decoded). The vector is read
   * once and not kept: the caller may reuse or drop it as soon as this returns.
   * @throws {SecAggProtocolError} SECAGG_BAD_MESSAGE when the client did not share keys, was added
   *   already, or the vector has the wrong length; SECAGG_OUT_OF_ORDER after {@link unmask}.
   */
  add(clientId: string, vector: Uint32Array): void {
    this.#check(clientId, vector.length);
    addMaskInPlace(this.#sum, vector, 1);
    this.#added.add(clientId);
  }

  #check(clientId: string, length: number): void {
    if (this.#spent) throw new SecAggProtocolError('the sum is already unmasked', 'SECAGG_OUT_OF_ORDER');
    if (!this.#u2.has(clientId) || this.#added.has(clientId))
      throw new SecAggProtocolError(`masked input from ${clientId} is unexpected or repeated`);
    if (length !== this.#roster.vectorLength)
      throw new SecAggProtocolError(`masked input from ${clientId} has the wrong length`);
  }

  /**
   * Reconstructs each survivor's b and each dropped client's mask key from t shares and removes
   * their masks from the sum. Every count is checked before any secret is reconstructed; if a
   * check fails the accumulator is untouched and may be unmasked again with more responses.
   * @param responses Unmask responses that arrived (from survivors).
   * @param survivors When given (the unmask request's list), the sum must hold exactly these
   *   clients' inputs, each once: a missing or extra input would otherwise leave a mask in the sum
   *   or take out one that was never added, and the result would be noise.
   * @throws {SecAggProtocolError} SECAGG_TOO_FEW_SURVIVORS when fewer than t survivors, or too few
   *   shares for some secret; SECAGG_BAD_MESSAGE for malformed or unexpected messages or a sum
   *   that does not hold exactly `survivors`; SECAGG_OUT_OF_ORDER when called a second time.
   * @throws {SecAggCryptoError} SECAGG_KEY_MISMATCH when a reconstructed mask key is not the advertised one.
   * @throws {ShamirError} SHAMIR_INCONSISTENT when shares disagree.
   */
  unmask(responses: readonly unknown[], survivors?: readonly string[]): UnmaskedSum {
    if (this.#spent) throw new SecAggProtocolError('the sum is already unmasked', 'SECAGG_OUT_OF_ORDER');
    const roster = this.#roster;
    const byId = this.#byId;
    const t = roster.threshold;
    const vectors = this.#added;
    if (survivors) {
      const expected = new Set(survivors);
      const missing = [...expected].filter((id) => !vectors.has(id));
      const extra = [...vectors].filter((id) => !expected.has(id));
      if (missing.length > 0 || extra.length > 0 || expected.size !== survivors.length)
        throw new SecAggProtocolError(
          `the sum does not hold exactly the survivors' inputs (missing: ${missing.join(', ') || 'none'}; ` +
            `not a survivor: ${extra.join(', ') || 'none'})`,
        );
    }
    if (vectors.size < t)
      throw new SecAggProtocolError(
        `${vectors.size} survivors, fewer than the threshold ${t}`,
        'SECAGG_TOO_FEW_SURVIVORS',
      );
    const dropped = [...this.#u2].filter((id) => !vectors.has(id));
    const droppedSet = new Set(dropped);

    // Collect revealed shares; the x of a share is its holder's roster index.
    const selfShares = new Map<string, Share[]>();
    const keyShares = new Map<string, Share[]>();
    const responders = new Set<string>();
    for (const raw of responses) {
      const r: UnmaskResponse = checkMessage(UnmaskResponseSchema, raw);
      const holder = byId.get(r.clientId);
      if (r.roundId !== roster.roundId || !holder || !vectors.has(r.clientId) || responders.has(r.clientId))
        throw new SecAggProtocolError(`unmask response from ${r.clientId} is unexpected or repeated`);
      responders.add(r.clientId);
      const holds = (of: string) => of === r.clientId || holder.neighbours.includes(of);
      for (const s of r.selfMaskShares) {
        if (!vectors.has(s.of) || !holds(s.of))
          throw new SecAggProtocolError(`${r.clientId} revealed an unasked share`);
        push(selfShares, s.of, { x: holder.index, y: decodeShareValue(decodeFixed(s.share, 66, 'share')) });
      }
      for (const s of r.maskKeyShares) {
        if (!droppedSet.has(s.of) || !holds(s.of))
          throw new SecAggProtocolError(`${r.clientId} revealed an unasked share`);
        push(keyShares, s.of, { x: holder.index, y: decodeShareValue(decodeFixed(s.share, 66, 'share')) });
      }
    }
    // A dropped client's mask key matters only if a survivor masked with it.
    const survivingNeighbours = (id: string) => byId.get(id)!.neighbours.filter((v) => vectors.has(v));
    const needed = dropped.filter((id) => survivingNeighbours(id).length > 0);
    const short = [
      ...[...vectors].filter((id) => (selfShares.get(id)?.length ?? 0) < t),
      ...needed.filter((id) => (keyShares.get(id)?.length ?? 0) < t),
    ];
    if (short.length > 0)
      throw new SecAggProtocolError(
        `fewer than ${t} shares arrived for ${short.join(', ')}: the sum cannot be unmasked`,
        'SECAGG_TOO_FEW_SURVIVORS',
      );

    this.#spent = true; // from here on the sum is being unmasked
    const sum = this.#sum;
    for (const id of vectors) {
      const b = combineShares(selfShares.get(id)!, t);
      addExpandedMaskInPlace(sum, b, -1);
      b.fill(0);
    }
    for (const v of needed) {
      const sk = combineShares(keyShares.get(v)!, t);
      const dropper = byId.get(v)!;
      if (toBase64Url(publicKeyOf(sk)) !== dropper.maskKey)
        throw new SecAggCryptoError(
          `the reconstructed mask key of ${v} is not the one it advertised`,
          'SECAGG_KEY_MISMATCH',
        );
      for (const w of survivingNeighbours(v)) {
        const survivor = byId.get(w)!;
        const [lower, higher] = survivor.index < dropper.index ? [w, v] : [v, w];
        const seed = pairwiseMaskSeed(
          sk,
          decodeFixed(survivor.maskKey, 32, 'mask key'),
          roster.roundId,
          lower,
          higher,
        );
        // w added +mask when it comes first in roster order, −mask otherwise: take that back.
        addExpandedMaskInPlace(sum, seed, survivor.index < dropper.index ? -1 : 1);
        seed.fill(0);
      }
      sk.fill(0);
    }
    return { sum, survivors: this.survivors };
  }
}

function push(m: Map<string, Share[]>, key: string, s: Share): void {
  const list = m.get(key);
  if (list) list.push(s);
  else m.set(key, [s]);
}
