/**
 * Wire schemas of the four secure-aggregation phases (TypeBox, like ../schemas.ts), with bounded
 * sizes so a server can validate before it allocates:
 *
 *  1. advertise keys  client → server {@link AdvertiseKeysSchema}; server → clients {@link RosterSchema}
 *  2. share keys      client → server {@link ShareKeysSchema}; server → each client {@link ShareDeliverySchema}
 *  3. masked input    client → server {@link MaskedInputSchema}
 *  4. unmask          server → survivors {@link UnmaskRequestSchema}; survivors → server {@link UnmaskResponseSchema}
 *
 * Binary values are base64url without padding. Every message carries its `kind` and `roundId`, and
 * `canonicalMessageBytes` gives the exact bytes an institution signs with its identity key.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { fromBase64Url, toBase64Url } from '../base64url.ts';
import { SecAggProtocolError } from '../errors.ts';

/** Most participants in one secure-aggregation round (also the default quantization headroom). */
export const MAX_PARTICIPANTS = 1024;
/** Most coordinates in one masked vector (2^24: 64 MiB as uint32). */
export const MAX_VECTOR_LENGTH = 1 << 24;

const b64 = (bytes: number) => Math.ceil((bytes * 4) / 3);
const Base64Url = (bytes: number) => Type.String({ pattern: `^[A-Za-z0-9_-]{${b64(bytes)}}$` });

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
/** A raw 32-byte X25519 public key. */
const PublicKey = Base64Url(32);
/** A Shamir share value (66 bytes, see shamir.ts). */
const ShareValue = Base64Url(66);
const Nonce = Base64Url(12);
/** ChaCha20-Poly1305 of two share values (132 bytes) plus its 16-byte tag. */
export const SHARE_CIPHERTEXT_BYTES = 2 * 66 + 16;
const Ciphertext = Base64Url(SHARE_CIPHERTEXT_BYTES);
const IdList = Type.Array(Id, { maxItems: MAX_PARTICIPANTS, uniqueItems: true });

export const AdvertiseKeysSchema = Type.Object(
  {
    kind: Type.Literal('secagg/advertise-keys'),
    roundId: Id,
    clientId: Id,
    /** X25519 key for encrypting Shamir shares to peers. */
    encryptionKey: PublicKey,
    /** X25519 key for agreeing pairwise mask seeds. */
    maskKey: PublicKey,
  },
  { additionalProperties: false },
);
export type AdvertiseKeys = Static<typeof AdvertiseKeysSchema>;

export const QuantizationParamsSchema = Type.Object(
  {
    clip: Type.Number({ exclusiveMinimum: 0, maximum: 1e6 }),
    scaleBits: Type.Integer({ minimum: 0, maximum: 30 }),
    maxClients: Type.Integer({ minimum: 1, maximum: MAX_PARTICIPANTS }),
    noiseBound: Type.Integer({ minimum: 0, maximum: 2 ** 31 }),
  },
  { additionalProperties: false },
);

export const RosterParticipantSchema = Type.Object(
  {
    clientId: Id,
    /** 1-based position in the roster (sorted by clientId): the Shamir x and the mask sign order. */
    index: Type.Integer({ minimum: 1, maximum: MAX_PARTICIPANTS }),
    encryptionKey: PublicKey,
    maskKey: PublicKey,
    /** Peers this client masks with and shares its secrets to (symmetric; see graph.ts). */
    neighbours: IdList,
  },
  { additionalProperties: false },
);
export type RosterParticipant = Static<typeof RosterParticipantSchema>;

export const RosterSchema = Type.Object(
  {
    kind: Type.Literal('secagg/roster'),
    roundId: Id,
    /** Shares needed to reconstruct a secret, out of (neighbours + 1) holders. */
    threshold: Type.Integer({ minimum: 1, maximum: MAX_PARTICIPANTS }),
    /** Neighbour count requested; n − 1 (all others) when the round is small. */
    degree: Type.Integer({ minimum: 1, maximum: MAX_PARTICIPANTS - 1 }),
    /** Public seed the neighbour graph is drawn from, so every client can recompute it. */
    graphSeed: Base64Url(32),
    vectorLength: Type.Integer({ minimum: 1, maximum: MAX_VECTOR_LENGTH }),
    quantization: QuantizationParamsSchema,
    participants: Type.Array(RosterParticipantSchema, { minItems: 2, maxItems: MAX_PARTICIPANTS }),
  },
  { additionalProperties: false },
);
export type Roster = Static<typeof RosterSchema>;

export const ShareKeysSchema = Type.Object(
  {
    kind: Type.Literal('secagg/share-keys'),
    roundId: Id,
    clientId: Id,
    shares: Type.Array(
      Type.Object({ to: Id, nonce: Nonce, ciphertext: Ciphertext }, { additionalProperties: false }),
      {
        maxItems: MAX_PARTICIPANTS - 1,
      },
    ),
  },
  { additionalProperties: false },
);
export type ShareKeys = Static<typeof ShareKeysSchema>;

export const ShareDeliverySchema = Type.Object(
  {
    kind: Type.Literal('secagg/share-delivery'),
    roundId: Id,
    /** The recipient. */
    clientId: Id,
    shares: Type.Array(
      Type.Object({ from: Id, nonce: Nonce, ciphertext: Ciphertext }, { additionalProperties: false }),
      { maxItems: MAX_PARTICIPANTS - 1 },
    ),
  },
  { additionalProperties: false },
);
export type ShareDelivery = Static<typeof ShareDeliverySchema>;

export const MaskedInputSchema = Type.Object(
  {
    kind: Type.Literal('secagg/masked-input'),
    roundId: Id,
    clientId: Id,
    length: Type.Integer({ minimum: 1, maximum: MAX_VECTOR_LENGTH }),
    /** The masked vector: `length` uint32 words, little-endian, as base64url (see encodeVector). */
    vector: Type.String({ maxLength: b64(4 * MAX_VECTOR_LENGTH), pattern: '^[A-Za-z0-9_-]*$' }),
  },
  { additionalProperties: false },
);
export type MaskedInput = Static<typeof MaskedInputSchema>;

export const UnmaskRequestSchema = Type.Object(
  {
    kind: Type.Literal('secagg/unmask-request'),
    roundId: Id,
    /** Clients whose masked input arrived: their self-mask seeds are to be reconstructed. */
    survivors: IdList,
    /** Clients that shared keys but sent no masked input: their mask keys are to be reconstructed. */
    dropped: IdList,
  },
  { additionalProperties: false },
);
export type UnmaskRequest = Static<typeof UnmaskRequestSchema>;

const RevealedShare = Type.Object({ of: Id, share: ShareValue }, { additionalProperties: false });
export const UnmaskResponseSchema = Type.Object(
  {
    kind: Type.Literal('secagg/unmask-response'),
    roundId: Id,
    clientId: Id,
    /** Shares of self-mask seeds b, one per surviving neighbour (and the client itself). */
    selfMaskShares: Type.Array(RevealedShare, { maxItems: MAX_PARTICIPANTS }),
    /** Shares of mask secret keys, one per dropped neighbour. */
    maskKeyShares: Type.Array(RevealedShare, { maxItems: MAX_PARTICIPANTS }),
  },
  { additionalProperties: false },
);
export type UnmaskResponse = Static<typeof UnmaskResponseSchema>;

export type SecAggMessage =
  AdvertiseKeys | Roster | ShareKeys | ShareDelivery | MaskedInput | UnmaskRequest | UnmaskResponse;

/**
 * Validates an incoming message against its schema.
 * @throws {SecAggProtocolError} SECAGG_BAD_MESSAGE naming the first failing path.
 */
export function checkMessage<S extends TSchema>(schema: S, value: unknown): Static<S> {
  if (Value.Check(schema, value)) return value;
  const first = Value.Errors(schema, value).First();
  throw new SecAggProtocolError(
    `malformed secure-aggregation message${first ? ` at ${first.path || '/'}: ${first.message}` : ''}`,
    'SECAGG_BAD_MESSAGE',
  );
}

/** Version tag at the head of every signed secure-aggregation message. */
export const SECAGG_SIGNATURE_VERSION = 'DURE-SECAGG-V1';

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The exact bytes an institution signs (Ed25519, its enrolled identity key, as signing.ts does for
 * requests) for one phase message: the version tag, a newline, and the message as JSON with keys
 * sorted at every level and no whitespace. Arrays keep their order.
 */
export function canonicalMessageBytes(message: SecAggMessage): Uint8Array {
  return new TextEncoder().encode(`${SECAGG_SIGNATURE_VERSION}\n${canonicalJson(message)}`);
}

/** A uint32 vector as base64url of its little-endian bytes (the masked-input wire form). */
export function encodeVector(v: Uint32Array): string {
  return toBase64Url(vectorToBytes(v));
}

/** The binary wire form (for application/octet-stream bodies): little-endian uint32 words. */
export function vectorToBytes(v: Uint32Array): Uint8Array {
  const bytes = new Uint8Array(v.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < v.length; i++) view.setUint32(i * 4, v[i]!, true);
  return bytes;
}

/**
 * Reads a little-endian uint32 vector of exactly `length` words.
 * @throws {SecAggProtocolError} SECAGG_BAD_MESSAGE if the byte count does not match.
 */
export function bytesToVector(bytes: Uint8Array, length: number): Uint32Array {
  if (bytes.length !== length * 4)
    throw new SecAggProtocolError(`vector holds ${bytes.length} bytes, expected ${length * 4}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(length);
  for (let i = 0; i < length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

/**
 * Reads the vector of a masked-input message.
 * @throws {SecAggProtocolError} SECAGG_BAD_MESSAGE if it is not base64url of `length` words.
 */
export function decodeVector(m: Pick<MaskedInput, 'vector' | 'length'>): Uint32Array {
  const bytes = fromBase64Url(m.vector);
  if (!bytes) throw new SecAggProtocolError('masked vector is not base64url');
  return bytesToVector(bytes, m.length);
}

/** Bytes of a fixed-size base64url field, checked. */
export function decodeFixed(text: string, bytes: number, what: string): Uint8Array {
  const out = fromBase64Url(text);
  if (!out || out.length !== bytes)
    throw new SecAggProtocolError(`${what} must be ${bytes} bytes of base64url`);
  return out;
}
