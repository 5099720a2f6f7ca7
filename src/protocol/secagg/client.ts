/**
 * One client's side of a secure-aggregation round, as a state machine with one method per phase:
 *
 *   new ─advertiseKeys→ advertised ─shareKeys(roster)→ shared ─maskInput(delivery, x)→ masked
 *       ─unmask(request)→ done
 *
 * A call in any other order is refused (SECAGG_OUT_OF_ORDER) and changes nothing. Secrets (two
 * X25519 secret keys, the self-mask seed b, the shares received from neighbours) live in private
 * fields, never leave except as the protocol says, and are wiped when the round ends. An unmask
 * request that asks for both the self-mask share and the mask-key share of one client — which
 * would let the server strip every mask off that client's input — aborts the client for good.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { fromBase64Url, toBase64Url } from '../base64url.ts';
import { SecAggCryptoError, SecAggProtocolError } from '../errors.ts';
import {
  agree,
  generateKeyPair,
  pairwiseMaskSeed,
  publicKeyOf,
  shareAad,
  shareEncryptionKey,
  type X25519KeyPair,
} from './keys.ts';
import { addExpandedMaskInPlace, SEED_BYTES } from './prg.ts';
import { checkRoster } from './roster.ts';
import {
  AdvertiseKeysSchema,
  RosterSchema,
  ShareDeliverySchema,
  UnmaskRequestSchema,
  checkMessage,
  decodeFixed,
  encodeVector,
  type AdvertiseKeys,
  type MaskedInput,
  type Roster,
  type RosterParticipant,
  type ShareKeys,
  type UnmaskResponse,
} from './schemas.ts';
import { SHARE_BYTES, decodeShareValue, encodeShareValue, splitSecret } from './shamir.ts';

export type ClientPhase = 'new' | 'advertised' | 'shared' | 'masked' | 'done' | 'aborted';

/**
 * Everything a client holds between phases, as plain JSON (byte strings base64url, share values
 * hex), so a client on a separated network can stop after one phase and resume in another
 * process days later (src/fl/airgap-state.ts keeps it encrypted at rest). It IS the client's
 * secret: whoever holds it can unmask this client's input.
 */
export interface SecAggClientState {
  version: 1;
  roundId: string;
  clientId: string;
  phase: ClientPhase;
  encryptionSecretKey?: string;
  maskSecretKey?: string;
  selfSeed?: string;
  roster?: Roster;
  encryptionSecrets: [string, string][];
  held: [string, { selfMask: string; maskKey: string }][];
}

/** The shares of one client's two secrets held by one holder. */
interface HeldShares {
  selfMask: bigint;
  maskKey: bigint;
}

export class SecAggClient {
  readonly roundId: string;
  readonly clientId: string;
  #phase: ClientPhase = 'new';
  #encryption: X25519KeyPair | undefined;
  #mask: X25519KeyPair | undefined;
  #selfSeed: Uint8Array | undefined;
  #roster: Roster | undefined;
  #me: RosterParticipant | undefined;
  #byId = new Map<string, RosterParticipant>();
  /** X25519 secrets of this client's and each neighbour's encryption keys (for both directions). */
  #encryptionSecrets = new Map<string, Uint8Array>();
  /** Shares this client holds, keyed by the client they belong to (itself included). */
  #held = new Map<string, HeldShares>();

  constructor(roundId: string, clientId: string) {
    // Validated like the wire ids, so every message this client writes passes its schema.
    checkMessage(AdvertiseKeysSchema.properties.roundId, roundId);
    checkMessage(AdvertiseKeysSchema.properties.clientId, clientId);
    this.roundId = roundId;
    this.clientId = clientId;
  }

  get phase(): ClientPhase {
    return this.#phase;
  }

  /** The client's secrets and progress (see {@link SecAggClientState}); nothing is wiped. */
  exportState(): SecAggClientState {
    const b64 = (x: Uint8Array | undefined) => (x ? toBase64Url(x) : undefined);
    return {
      version: 1,
      roundId: this.roundId,
      clientId: this.clientId,
      phase: this.#phase,
      ...(this.#encryption ? { encryptionSecretKey: b64(this.#encryption.secretKey)! } : {}),
      ...(this.#mask ? { maskSecretKey: b64(this.#mask.secretKey)! } : {}),
      ...(this.#selfSeed ? { selfSeed: b64(this.#selfSeed)! } : {}),
      ...(this.#roster ? { roster: this.#roster } : {}),
      encryptionSecrets: [...this.#encryptionSecrets].map(([id, v]) => [id, toBase64Url(v)]),
      held: [...this.#held].map(([id, h]) => [
        id,
        { selfMask: h.selfMask.toString(16), maskKey: h.maskKey.toString(16) },
      ]),
    };
  }

  /**
   * A client continuing from {@link exportState}; the roster is checked again.
   * @throws {SecAggProtocolError} SECAGG_BAD_MESSAGE for a state that is malformed or inconsistent.
   */
  static restore(state: SecAggClientState): SecAggClient {
    const bad = (what: string) => new SecAggProtocolError(`saved secure-aggregation state: ${what}`);
    if (state?.version !== 1) throw bad('unknown version');
    const client = new SecAggClient(state.roundId, state.clientId);
    const bytes = (x: string | undefined, n: number, what: string) => {
      const b = x === undefined ? undefined : fromBase64Url(x);
      if (!b || b.length !== n) throw bad(`${what} is missing or malformed`);
      return b;
    };
    const phases: ClientPhase[] = ['new', 'advertised', 'shared', 'masked', 'done', 'aborted'];
    if (!phases.includes(state.phase)) throw bad('unknown phase');
    client.#phase = state.phase;
    if (state.phase === 'new' || state.phase === 'done' || state.phase === 'aborted') return client;
    const pair = (sk: Uint8Array): X25519KeyPair => ({ secretKey: sk, publicKey: publicKeyOf(sk) });
    client.#encryption = pair(bytes(state.encryptionSecretKey, 32, 'encryption key'));
    client.#mask = pair(bytes(state.maskSecretKey, 32, 'mask key'));
    client.#selfSeed = bytes(state.selfSeed, SEED_BYTES, 'self-mask seed');
    if (state.phase === 'advertised') return client;
    const roster = checkMessage(RosterSchema, state.roster);
    if (roster.roundId !== state.roundId) throw bad('roster of another round');
    const { byId } = checkRoster(roster);
    const me = byId.get(state.clientId);
    if (!me) throw bad('this client is not in its roster');
    client.#roster = roster;
    client.#me = me;
    client.#byId = byId;
    for (const [id, v] of state.encryptionSecrets ?? [])
      client.#encryptionSecrets.set(id, bytes(v, 32, 'pairwise secret'));
    const hex = (x: unknown) => {
      if (typeof x !== 'string' || !/^[0-9a-f]{1,200}$/.test(x)) throw bad('share value is malformed');
      return BigInt(`0x${x}`);
    };
    for (const [id, h] of state.held ?? [])
      client.#held.set(id, { selfMask: hex(h?.selfMask), maskKey: hex(h?.maskKey) });
    return client;
  }

  #expect(phase: ClientPhase, call: string): void {
    if (this.#phase !== phase)
      throw new SecAggProtocolError(
        `${call} is not allowed in phase '${this.#phase}' (needs '${phase}')`,
        'SECAGG_OUT_OF_ORDER',
      );
  }

  /** Phase 1: fresh key pairs and self-mask seed; returns the two public keys to advertise. */
  advertiseKeys(): AdvertiseKeys {
    this.#expect('new', 'advertiseKeys');
    this.#encryption = generateKeyPair();
    this.#mask = generateKeyPair();
    this.#selfSeed = crypto.getRandomValues(new Uint8Array(SEED_BYTES));
    this.#phase = 'advertised';
    return {
      kind: 'secagg/advertise-keys',
      roundId: this.roundId,
      clientId: this.clientId,
      encryptionKey: toBase64Url(this.#encryption.publicKey),
      maskKey: toBase64Url(this.#mask.publicKey),
    };
  }

  /**
   * Phase 2: checks the roster, splits b and the mask secret key into Shamir shares (threshold t,
   * one per neighbour and one kept), and encrypts each neighbour's pair of shares to it.
   * @throws {SecAggProtocolError} SECAGG_OUT_OF_ORDER, SECAGG_BAD_MESSAGE, SECAGG_BAD_ROSTER.
   */
  shareKeys(rosterMessage: unknown): ShareKeys {
    this.#expect('advertised', 'shareKeys');
    const roster = checkMessage(RosterSchema, rosterMessage);
    if (roster.roundId !== this.roundId)
      throw new SecAggProtocolError('roster is for another round', 'SECAGG_BAD_ROSTER');
    const { byId } = checkRoster(roster);
    const me = byId.get(this.clientId);
    if (!me) throw new SecAggProtocolError('this client is not in the roster', 'SECAGG_BAD_ROSTER');
    if (
      me.encryptionKey !== toBase64Url(this.#encryption!.publicKey) ||
      me.maskKey !== toBase64Url(this.#mask!.publicKey)
    )
      throw new SecAggProtocolError("the roster does not carry this client's own keys", 'SECAGG_BAD_ROSTER');

    const neighbours = me.neighbours.map((id) => byId.get(id)!);
    const xs = [me.index, ...neighbours.map((p) => p.index)];
    const selfShares = splitSecret(this.#selfSeed!, roster.threshold, xs);
    const keyShares = splitSecret(this.#mask!.secretKey, roster.threshold, xs);
    this.#held.set(this.clientId, { selfMask: selfShares[0]!.y, maskKey: keyShares[0]!.y });

    const shares = neighbours.map((peer, i) => {
      const plaintext = new Uint8Array(2 * SHARE_BYTES);
      plaintext.set(encodeShareValue(selfShares[i + 1]!.y), 0);
      plaintext.set(encodeShareValue(keyShares[i + 1]!.y), SHARE_BYTES);
      const secret = agree(
        this.#encryption!.secretKey,
        decodeFixed(peer.encryptionKey, 32, 'encryption key'),
      );
      this.#encryptionSecrets.set(peer.clientId, secret);
      const key = shareEncryptionKey(secret, this.roundId, this.clientId, peer.clientId);
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      const ciphertext = chacha20poly1305(
        key,
        nonce,
        shareAad(this.roundId, this.clientId, peer.clientId),
      ).encrypt(plaintext);
      plaintext.fill(0);
      return { to: peer.clientId, nonce: toBase64Url(nonce), ciphertext: toBase64Url(ciphertext) };
    });
    this.#roster = roster;
    this.#me = me;
    this.#byId = byId;
    this.#phase = 'shared';
    return { kind: 'secagg/share-keys', roundId: this.roundId, clientId: this.clientId, shares };
  }

  /**
   * Phase 3: decrypts the shares neighbours sent (their senders are the neighbours still in the
   * round), then masks the quantized input: y = x + PRG(b) + Σ_v ±PRG(s_uv) mod 2^32, with + for
   * neighbours later in roster order and − for earlier ones, so pairwise masks cancel in the sum.
   * `quantized` is the output of `quantize` (DP noise, if any, already added there).
   * @throws {SecAggCryptoError} SECAGG_DECRYPT for a tampered or misrouted ciphertext.
   * @throws {SecAggProtocolError} SECAGG_OUT_OF_ORDER, SECAGG_BAD_MESSAGE, SECAGG_TOO_FEW_SURVIVORS.
   */
  maskInput(deliveryMessage: unknown, quantized: Uint32Array): MaskedInput {
    this.#expect('shared', 'maskInput');
    const delivery = checkMessage(ShareDeliverySchema, deliveryMessage);
    const roster = this.#roster!;
    const me = this.#me!;
    if (delivery.roundId !== this.roundId || delivery.clientId !== this.clientId)
      throw new SecAggProtocolError('share delivery is for another round or client');
    if (quantized.length !== roster.vectorLength)
      throw new SecAggProtocolError(
        `input has ${quantized.length} coordinates, the round ${roster.vectorLength}`,
      );

    const received = new Map<string, HeldShares>();
    for (const s of delivery.shares) {
      if (!me.neighbours.includes(s.from) || received.has(s.from))
        throw new SecAggProtocolError(`shares from ${s.from}, who is not a neighbour or sent twice`);
      const key = shareEncryptionKey(
        this.#encryptionSecrets.get(s.from)!,
        this.roundId,
        s.from,
        this.clientId,
      );
      let plaintext: Uint8Array;
      try {
        plaintext = chacha20poly1305(
          key,
          decodeFixed(s.nonce, 12, 'nonce'),
          shareAad(this.roundId, s.from, this.clientId),
        ).decrypt(decodeFixed(s.ciphertext, 2 * SHARE_BYTES + 16, 'ciphertext'));
      } catch (cause) {
        if (cause instanceof SecAggProtocolError) throw cause;
        throw new SecAggCryptoError(`shares from ${s.from} fail authentication`, 'SECAGG_DECRYPT', { cause });
      }
      received.set(s.from, {
        selfMask: decodeShareValue(plaintext.subarray(0, SHARE_BYTES)),
        maskKey: decodeShareValue(plaintext.subarray(SHARE_BYTES)),
      });
      plaintext.fill(0);
    }
    if (received.size + 1 < roster.threshold)
      throw new SecAggProtocolError(
        `only ${received.size} neighbours shared keys; ${roster.threshold - 1} are needed`,
        'SECAGG_TOO_FEW_SURVIVORS',
      );

    const y = Uint32Array.from(quantized);
    addExpandedMaskInPlace(y, this.#selfSeed!, 1);
    for (const id of received.keys()) {
      const peer = this.#byId.get(id)!;
      const [lower, higher] = me.index < peer.index ? [me.clientId, id] : [id, me.clientId];
      const seed = pairwiseMaskSeed(
        this.#mask!.secretKey,
        decodeFixed(peer.maskKey, 32, 'mask key'),
        this.roundId,
        lower,
        higher,
      );
      addExpandedMaskInPlace(y, seed, me.index < peer.index ? 1 : -1);
      seed.fill(0);
    }
    for (const [id, shares] of received) this.#held.set(id, shares);
    this.#phase = 'masked';
    return {
      kind: 'secagg/masked-input',
      roundId: this.roundId,
      clientId: this.clientId,
      length: y.length,
      vector: encodeVector(y),
    };
  }

  /**
   * Phase 4: reveals, for each surviving neighbour (and itself), its share of that client's b, and
   * for each dropped neighbour, its share of that client's mask secret key — never both for one
   * client. Clients that are not neighbours are not this client's to answer for and are skipped.
   * @throws {SecAggProtocolError} SECAGG_UNMASK_REFUSED (and aborts) when a client is listed both
   *   surviving and dropped or this client is listed dropped; SECAGG_TOO_FEW_SURVIVORS when fewer
   *   than t of its neighbourhood survive; SECAGG_OUT_OF_ORDER, SECAGG_BAD_MESSAGE.
   */
  unmask(requestMessage: unknown): UnmaskResponse {
    this.#expect('masked', 'unmask');
    const request = checkMessage(UnmaskRequestSchema, requestMessage);
    if (request.roundId !== this.roundId)
      throw new SecAggProtocolError('unmask request is for another round');
    const survivors = new Set(request.survivors);
    const dropped = new Set(request.dropped);
    const both = request.dropped.filter((id) => survivors.has(id));
    if (both.length > 0 || dropped.has(this.clientId) || !survivors.has(this.clientId)) {
      this.#abort();
      throw new SecAggProtocolError(
        both.length > 0
          ? `the server asked for both masks of ${both.join(', ')}: that would reveal an input`
          : 'the server listed this answering client as dropped',
        'SECAGG_UNMASK_REFUSED',
      );
    }
    for (const id of [...survivors, ...dropped])
      if (!this.#byId.has(id))
        throw new SecAggProtocolError(`unmask request names ${id}, who is not in the roster`);
    const threshold = this.#roster!.threshold;
    let alive = 0;
    for (const id of this.#held.keys()) if (survivors.has(id)) alive++;
    if (alive < threshold)
      throw new SecAggProtocolError(
        `only ${alive} of this client's neighbourhood survive; ${threshold} are needed`,
        'SECAGG_TOO_FEW_SURVIVORS',
      );
    const selfMaskShares: UnmaskResponse['selfMaskShares'] = [];
    const maskKeyShares: UnmaskResponse['maskKeyShares'] = [];
    for (const [id, shares] of this.#held) {
      if (survivors.has(id))
        selfMaskShares.push({ of: id, share: toBase64Url(encodeShareValue(shares.selfMask)) });
      else if (dropped.has(id))
        maskKeyShares.push({ of: id, share: toBase64Url(encodeShareValue(shares.maskKey)) });
    }
    this.#wipe();
    this.#phase = 'done';
    return {
      kind: 'secagg/unmask-response',
      roundId: this.roundId,
      clientId: this.clientId,
      selfMaskShares,
      maskKeyShares,
    };
  }

  #abort(): void {
    this.#wipe();
    this.#phase = 'aborted';
  }

  #wipe(): void {
    this.#encryption?.secretKey.fill(0);
    this.#mask?.secretKey.fill(0);
    this.#selfSeed?.fill(0);
    this.#held.clear();
    for (const secret of this.#encryptionSecrets.values()) secret.fill(0);
    this.#encryptionSecrets.clear();
  }
}
