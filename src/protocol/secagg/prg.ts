/**
 * Mask expansion: a 32-byte seed becomes d pseudo-random words of Z_{2^32}.
 *
 * The words are the ChaCha20 keystream (RFC 8439, @noble/ciphers) under key = seed and an all-zero
 * nonce, read as little-endian uint32. A zero nonce is sound because every seed is used for one
 * expansion only: pairwise seeds come from HKDF with the round id as salt, self-mask seeds are
 * fresh random bytes per round. ChaCha20's 32-bit block counter allows 2^32 blocks of 16 words,
 * far beyond any adapter.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { SecAggProtocolError } from '../errors.ts';

/** Bytes of a mask seed. */
export const SEED_BYTES = 32;
const ZERO_NONCE = new Uint8Array(12);
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * d uint32 words of ChaCha20 keystream under `seed`.
 * @throws {SecAggProtocolError} if the seed is not 32 bytes or d is not a non-negative integer.
 */
export function expandMask(seed: Uint8Array, d: number): Uint32Array {
  if (seed.length !== SEED_BYTES) throw new SecAggProtocolError(`mask seed must be ${SEED_BYTES} bytes`);
  if (!Number.isInteger(d) || d < 0)
    throw new SecAggProtocolError('mask length must be a non-negative integer');
  // Keystream added to zeros is the keystream: one expansion routine for the client and server.
  const out = new Uint32Array(d);
  addExpandedMaskInPlace(out, seed, 1);
  return out;
}

/** Words of keystream expanded per step by {@link addExpandedMaskInPlace} (64 KiB, 1024 ChaCha blocks). */
const BLOCK_WORDS = 16_384;

/**
 * acc += sign · expandMask(seed, acc.length) (mod 2^32), in place, without ever holding the whole
 * mask: the keystream is produced 64 KiB at a time with ChaCha20's block counter set to where that
 * piece starts, which is the same keystream word for word (RFC 8439 §2.4). The server unmasks a
 * sum this way, so its memory does not grow with the vector length times the number of seeds.
 * @throws {SecAggProtocolError} if the seed is not 32 bytes.
 */
export function addExpandedMaskInPlace(acc: Uint32Array, seed: Uint8Array, sign: 1 | -1): void {
  if (seed.length !== SEED_BYTES) throw new SecAggProtocolError(`mask seed must be ${SEED_BYTES} bytes`);
  const zeros = new Uint8Array(Math.min(BLOCK_WORDS, acc.length) * 4);
  const stream = new Uint8Array(zeros.length);
  const words = new Uint32Array(stream.buffer);
  for (let start = 0; start < acc.length; start += BLOCK_WORDS) {
    const n = Math.min(BLOCK_WORDS, acc.length - start);
    // 16 words per ChaCha block, and every piece but the last is whole blocks. The keystream is
    // read as little-endian words: a plain view on little-endian hosts (all browsers' and Node's
    // platforms in practice), explicit byte reads elsewhere.
    chacha20(seed, ZERO_NONCE, zeros.subarray(0, n * 4), stream.subarray(0, n * 4), start / 16);
    if (!LITTLE_ENDIAN)
      for (let i = 0, j = 0; i < n; i++, j += 4)
        words[i] =
          (stream[j]! | (stream[j + 1]! << 8) | (stream[j + 2]! << 16) | (stream[j + 3]! << 24)) >>> 0;
    if (sign === 1) for (let i = 0; i < n; i++) acc[start + i] = (acc[start + i]! + words[i]!) >>> 0;
    else for (let i = 0; i < n; i++) acc[start + i] = (acc[start + i]! - words[i]!) >>> 0;
  }
  stream.fill(0); // a piece of a mask is as secret as the mask
}

/** acc += sign · mask (mod 2^32), in place. */
export function addMaskInPlace(acc: Uint32Array, mask: Uint32Array, sign: 1 | -1): void {
  if (acc.length !== mask.length) throw new SecAggProtocolError('mask and vector lengths differ');
  if (sign === 1) for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + mask[i]!) >>> 0;
  else for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! - mask[i]!) >>> 0;
}
