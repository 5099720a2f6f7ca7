/**
 * Shamir t-of-n secret sharing of 32-byte secrets (self-mask seeds and X25519 secret keys).
 *
 * Field: integers modulo the Mersenne prime p = 2^521 − 1 (the field prime of NIST P-521), so a
 * whole 32-byte secret (< 2^256) is one field element and needs no splitting. A share is the
 * pair (x, f(x)) where f is a random polynomial of degree t − 1 with f(0) = secret; x is the
 * holder's roster index (1…n, never 0), so only y travels, as 66 big-endian bytes.
 *
 * Modular reduction and inversion come from @noble/curves (audited); the sharing scheme itself is
 * ours. Coefficients are uniform in [0, p) by rejection sampling over crypto.getRandomValues.
 */
import { invert, mod } from '@noble/curves/abstract/modular.js';
import { ShamirError } from '../errors.ts';

/** The field prime, 2^521 − 1. */
export const SHAMIR_PRIME = (1n << 521n) - 1n;
/** Bytes of one encoded share value (521 bits rounded up). */
export const SHARE_BYTES = 66;
/** Bytes of a secret that can be shared. */
export const SECRET_BYTES = 32;

/** One point of the sharing polynomial: x is the holder's (non-zero) index. */
export interface Share {
  x: number;
  y: bigint;
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function bigIntToBytes(v: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** A uniform field element: 521 random bits, retried when ≥ p (probability 2^-521). */
function randomFieldElement(): bigint {
  const buf = new Uint8Array(SHARE_BYTES);
  for (;;) {
    crypto.getRandomValues(buf);
    buf[0]! &= 0x01; // keep 521 bits: 66 bytes hold 528, the top byte keeps one bit
    const v = bytesToBigInt(buf);
    if (v < SHAMIR_PRIME) return v;
  }
}

function checkParams(threshold: number, xs: readonly number[]): void {
  if (!Number.isInteger(threshold) || threshold < 1)
    throw new ShamirError(`threshold must be a positive integer, got ${threshold}`, 'SHAMIR_PARAMS');
  if (threshold > xs.length)
    throw new ShamirError(`threshold ${threshold} exceeds the ${xs.length} holders`, 'SHAMIR_PARAMS');
  const seen = new Set<number>();
  for (const x of xs) {
    if (!Number.isInteger(x) || x < 1 || x > 0xffff)
      throw new ShamirError(`share index must be an integer in 1…65535, got ${x}`, 'SHAMIR_PARAMS');
    if (seen.has(x)) throw new ShamirError(`share index ${x} appears twice`, 'SHAMIR_PARAMS');
    seen.add(x);
  }
}

/**
 * Splits a 32-byte secret into one share per holder index; any `threshold` of them reconstruct
 * it, fewer reveal nothing about it (information-theoretically).
 * @throws {ShamirError} SHAMIR_PARAMS for a bad threshold or repeated/out-of-range indices.
 */
export function splitSecret(secret: Uint8Array, threshold: number, xs: readonly number[]): Share[] {
  if (secret.length !== SECRET_BYTES)
    throw new ShamirError(`secret must be ${SECRET_BYTES} bytes, got ${secret.length}`, 'SHAMIR_PARAMS');
  checkParams(threshold, xs);
  const coeffs = [bytesToBigInt(secret)];
  for (let i = 1; i < threshold; i++) coeffs.push(randomFieldElement());
  return xs.map((x) => {
    // Horner's rule, highest coefficient first.
    let y = 0n;
    const bx = BigInt(x);
    for (let i = coeffs.length - 1; i >= 0; i--) y = mod(y * bx + coeffs[i]!, SHAMIR_PRIME);
    return { x, y };
  });
}

/** Lagrange interpolation of the polynomial through `points`, evaluated at `at`. */
function interpolateAt(points: readonly Share[], at: bigint): bigint {
  let acc = 0n;
  for (let i = 0; i < points.length; i++) {
    const xi = BigInt(points[i]!.x);
    let num = 1n;
    let den = 1n;
    for (let j = 0; j < points.length; j++) {
      if (j === i) continue;
      const xj = BigInt(points[j]!.x);
      num = mod(num * (at - xj), SHAMIR_PRIME);
      den = mod(den * (xi - xj), SHAMIR_PRIME);
    }
    acc = mod(acc + points[i]!.y * num * invert(den, SHAMIR_PRIME), SHAMIR_PRIME);
  }
  return acc;
}

/**
 * Reconstructs a secret from at least `threshold` shares (Lagrange at 0). Extra shares are not
 * wasted: each must lie on the polynomial the first `threshold` define, so any altered share is
 * caught whenever more than `threshold` arrive. Among exactly `threshold` there is no redundancy;
 * still, a result ≥ 2^256 (impossible for a real 32-byte secret) is refused, which catches a
 * garbled (random) share with probability 1 − 2^-265, though not a deliberate small offset.
 * @throws {ShamirError} SHAMIR_TOO_FEW_SHARES, SHAMIR_INCONSISTENT, or SHAMIR_PARAMS.
 */
export function combineShares(shares: readonly Share[], threshold: number): Uint8Array {
  if (shares.length < threshold)
    throw new ShamirError(
      `need ${threshold} shares to reconstruct, got ${shares.length}`,
      'SHAMIR_TOO_FEW_SHARES',
    );
  checkParams(
    threshold,
    shares.map((s) => s.x),
  );
  for (const s of shares)
    if (s.y < 0n || s.y >= SHAMIR_PRIME) throw new ShamirError('share value outside the field');
  const basis = shares.slice(0, threshold);
  for (const extra of shares.slice(threshold)) {
    if (interpolateAt(basis, BigInt(extra.x)) !== extra.y)
      throw new ShamirError(`share ${extra.x} does not lie on the polynomial of the others`);
  }
  const secret = interpolateAt(basis, 0n);
  if (secret >> BigInt(SECRET_BYTES * 8) !== 0n)
    throw new ShamirError('the shares reconstruct no 32-byte secret (a share is wrong)');
  return bigIntToBytes(secret, SECRET_BYTES);
}

/** A share value as the 66 big-endian bytes that travel (inside ciphertexts or unmask replies). */
export function encodeShareValue(y: bigint): Uint8Array {
  return bigIntToBytes(y, SHARE_BYTES);
}

/**
 * Reads a share value back.
 * @throws {ShamirError} SHAMIR_INCONSISTENT if it is not 66 bytes or not a field element.
 */
export function decodeShareValue(bytes: Uint8Array): bigint {
  if (bytes.length !== SHARE_BYTES)
    throw new ShamirError(`a share value is ${SHARE_BYTES} bytes, got ${bytes.length}`);
  const y = bytesToBigInt(bytes);
  if (y >= SHAMIR_PRIME) throw new ShamirError('share value outside the field');
  return y;
}
