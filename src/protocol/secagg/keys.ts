/**
 * Key agreement and key derivation for secure aggregation: X25519 (@noble/curves) and
 * HKDF-SHA-256 (@noble/hashes). Every derived key is bound to the round id (HKDF salt) and to its
 * purpose and parties (HKDF info), so no key serves two purposes, two directions or two rounds.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { SecAggProtocolError } from '../errors.ts';

export interface X25519KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A fresh X25519 key pair (randomness from crypto.getRandomValues, through noble). */
export function generateKeyPair(): X25519KeyPair {
  const secretKey = x25519.utils.randomSecretKey();
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

/** The X25519 public key of a secret key (used to check a reconstructed mask key). */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secretKey);
}

/**
 * X25519(secret, peer).
 * @throws {SecAggProtocolError} SECAGG_BAD_ROSTER for an invalid or low-order peer key.
 */
export function agree(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  try {
    return x25519.getSharedSecret(secretKey, peerPublicKey);
  } catch (cause) {
    throw new SecAggProtocolError('a peer public key is not a usable X25519 key', 'SECAGG_BAD_ROSTER', {
      cause,
    });
  }
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const roundSalt = (roundId: string) => utf8(`DURE-SECAGG-V1|round|${roundId}`);

/**
 * The AEAD key for Shamir shares sent from `from` to `to` (one per direction and round), from the
 * X25519 secret of the two encryption keys (computed once per peer, used both ways).
 */
export function shareEncryptionKey(
  sharedSecret: Uint8Array,
  roundId: string,
  from: string,
  to: string,
): Uint8Array {
  return hkdf(sha256, sharedSecret, roundSalt(roundId), utf8(`share-encryption|${from}|${to}`), 32);
}

/** Additional data authenticated with a share ciphertext: round, sender and recipient. */
export function shareAad(roundId: string, from: string, to: string): Uint8Array {
  return utf8(`DURE-SECAGG-V1|shares|${roundId}|${from}|${to}`);
}

/**
 * The pairwise mask seed of two clients, the same from either side: the ids enter HKDF in roster
 * order (`lower` first).
 */
export function pairwiseMaskSeed(
  secretKey: Uint8Array,
  peerPublicKey: Uint8Array,
  roundId: string,
  lower: string,
  higher: string,
): Uint8Array {
  return hkdf(
    sha256,
    agree(secretKey, peerPublicKey),
    roundSalt(roundId),
    utf8(`pairwise-mask|${lower}|${higher}`),
    32,
  );
}
