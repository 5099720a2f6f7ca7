/**
 * Signed requests between an enrolled institution and the federated server, used identically by
 * the browser client and by the server (WebCrypto Ed25519 in both).
 *
 * The signature covers a canonical string of method, path (with query), institution id,
 * timestamp, nonce and the SHA-256 of the body. The body hash also travels as a header (as in
 * AWS SigV4's x-amz-content-sha256) so the server can check the signature *before* reading a
 * large upload, then check the body against the declared hash while streaming it.
 */
import { fromBase64Url, toBase64Url } from './base64url.ts';
import { SignatureError } from './errors.ts';

export const SIGNATURE_VERSION = 'DURE-ED25519-V1';
export const HEADER_INSTITUTION = 'x-dure-institution';
export const HEADER_TIMESTAMP = 'x-dure-timestamp';
export const HEADER_NONCE = 'x-dure-nonce';
export const HEADER_CONTENT_SHA256 = 'x-dure-content-sha256';
export const HEADER_SIGNATURE = 'x-dure-signature';

/** How far a request's timestamp may be from the server's clock. */
export const SIGNATURE_WINDOW_MS = 5 * 60 * 1000;

export interface SignedFields {
  method: string;
  /** Path and query exactly as sent, e.g. `/v1/tasks/abc/work`. */
  path: string;
  institutionId: string;
  /** Milliseconds since the epoch, as a decimal string. */
  timestamp: string;
  nonce: string;
  /** Lower-case hex SHA-256 of the body (of zero bytes when there is none). */
  contentSha256: string;
}

/** The exact bytes that are signed. */
export function canonicalRequest(f: SignedFields): string {
  return [
    SIGNATURE_VERSION,
    f.method.toUpperCase(),
    f.path,
    f.institutionId,
    f.timestamp,
    f.nonce,
    f.contentSha256,
  ].join('\n');
}

function hex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Lower-case hex SHA-256 of bytes or UTF-8 text. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/**
 * A fresh Ed25519 key pair for an institution; the private key is non-extractable so page
 * scripts can use but never read it (it can still be kept in IndexedDB as a CryptoKey).
 * @throws {SignatureError} if the platform lacks Ed25519 in WebCrypto.
 */
export async function generateInstitutionKeyPair(): Promise<{ privateKey: CryptoKey; publicKey: string }> {
  try {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    return { privateKey: pair.privateKey, publicKey: toBase64Url(raw) };
  } catch (cause) {
    throw new SignatureError('this platform cannot generate Ed25519 keys (WebCrypto)', { cause });
  }
}

function randomNonce(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(18)));
}

/**
 * Headers that sign one request. `body` must be exactly the bytes or text that will be sent.
 * @throws {SignatureError} if signing fails (e.g. the key is not an Ed25519 signing key).
 */
export async function signRequest(
  privateKey: CryptoKey,
  institutionId: string,
  method: string,
  path: string,
  body?: Uint8Array | string,
  now: number = Date.now(),
): Promise<Record<string, string>> {
  const fields: SignedFields = {
    method,
    path,
    institutionId,
    timestamp: String(now),
    nonce: randomNonce(),
    contentSha256: await sha256Hex(body ?? new Uint8Array(0)),
  };
  let sig: ArrayBuffer;
  try {
    sig = await crypto.subtle.sign(
      { name: 'Ed25519' },
      privateKey,
      new TextEncoder().encode(canonicalRequest(fields)),
    );
  } catch (cause) {
    throw new SignatureError('could not sign the request', { cause });
  }
  return {
    [HEADER_INSTITUTION]: institutionId,
    [HEADER_TIMESTAMP]: fields.timestamp,
    [HEADER_NONCE]: fields.nonce,
    [HEADER_CONTENT_SHA256]: fields.contentSha256,
    [HEADER_SIGNATURE]: toBase64Url(new Uint8Array(sig)),
  };
}

/**
 * Imports a raw 32-byte Ed25519 public key given as base64url.
 * @throws {SignatureError} if it is not a valid Ed25519 public key.
 */
export async function importPublicKey(publicKey: string): Promise<CryptoKey> {
  const raw = fromBase64Url(publicKey);
  if (!raw || raw.byteLength !== 32) throw new SignatureError('public key must be 32 bytes of base64url');
  try {
    return await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, true, [
      'verify',
    ]);
  } catch (cause) {
    throw new SignatureError('not a valid Ed25519 public key', { cause });
  }
}

/** True when `signature` (base64url) is a valid signature of `fields` by `key`. Never throws. */
export async function verifySignature(
  key: CryptoKey,
  fields: SignedFields,
  signature: string,
): Promise<boolean> {
  const sig = fromBase64Url(signature);
  if (!sig || sig.byteLength !== 64) return false;
  try {
    return await crypto.subtle.verify(
      { name: 'Ed25519' },
      key,
      sig as Uint8Array<ArrayBuffer>,
      new TextEncoder().encode(canonicalRequest(fields)),
    );
  } catch {
    return false;
  }
}
