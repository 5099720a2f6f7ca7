/**
 * The air-gapped institution's vault: its signing key and the secrets of the rounds it is in,
 * kept between phases (step 1 today, step 2 tomorrow) in one file encrypted at rest with a key
 * derived from the operator's passphrase — PBKDF2-SHA-256 then AES-256-GCM, both WebCrypto, so it
 * runs in Node and in a browser alike. The format label is the GCM additional data, and every
 * save uses a fresh IV under the key derived once per opening.
 */
import { fromBase64Url, toBase64Url } from '../protocol/base64url.ts';
import { AirgapFileError } from '../protocol/errors.ts';

const VAULT_FORMAT = 'dure-airgap-vault/1';
/** OWASP's 2023 figure for PBKDF2-SHA-256; a vault records its own count. */
export const DEFAULT_KDF_ITERATIONS = 600_000;
/** Lowest count a vault may be created with (tests use it to stay fast). */
export const MIN_KDF_ITERATIONS = 100_000;

interface SealedFile {
  format: typeof VAULT_FORMAT;
  kdf: { name: 'PBKDF2-SHA-256'; iterations: number; salt: string };
  iv: string;
  ciphertext: string;
}

/** An opened vault: its contents, and `seal` to write them back under the same passphrase. */
export interface OpenVault<T> {
  contents: T;
  seal(contents: T): Promise<string>;
}

async function deriveKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, [
    'deriveKey',
  ]);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, iterations },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

function sealer<T>(key: CryptoKey, kdf: SealedFile['kdf']): (contents: T) => Promise<string> {
  return async (contents) => {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(VAULT_FORMAT) },
      key,
      new TextEncoder().encode(JSON.stringify(contents)),
    );
    const file: SealedFile = {
      format: VAULT_FORMAT,
      kdf,
      iv: toBase64Url(iv),
      ciphertext: toBase64Url(new Uint8Array(ct)),
    };
    return JSON.stringify(file);
  };
}

/**
 * A new vault holding `contents`.
 * @throws {AirgapFileError} AIRGAP_STATE_LOCKED for an empty passphrase or too few iterations.
 */
export async function createVault<T>(
  contents: T,
  passphrase: string,
  iterations = DEFAULT_KDF_ITERATIONS,
): Promise<OpenVault<T>> {
  if (passphrase.length === 0 || !Number.isInteger(iterations) || iterations < MIN_KDF_ITERATIONS)
    throw new AirgapFileError(
      `a vault needs a passphrase and at least ${MIN_KDF_ITERATIONS} PBKDF2 iterations`,
      'AIRGAP_STATE_LOCKED',
    );
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const kdf = { name: 'PBKDF2-SHA-256' as const, iterations, salt: toBase64Url(salt) };
  return { contents, seal: sealer<T>(await deriveKey(passphrase, salt, iterations), kdf) };
}

/**
 * Opens a vault file.
 * @throws {AirgapFileError} AIRGAP_STATE_LOCKED for a wrong passphrase or an altered or
 *   malformed file.
 */
export async function openVault<T>(file: string, passphrase: string): Promise<OpenVault<T>> {
  const locked = (why: string, cause?: unknown) =>
    new AirgapFileError(`the vault cannot be opened: ${why}`, 'AIRGAP_STATE_LOCKED', { cause });
  let f: SealedFile;
  try {
    f = JSON.parse(file) as SealedFile;
  } catch (cause) {
    throw locked('not JSON', cause);
  }
  const salt = fromBase64Url(f?.kdf?.salt ?? '');
  const iv = fromBase64Url(f?.iv ?? '');
  const ct = fromBase64Url(f?.ciphertext ?? '');
  const iterations = f?.kdf?.iterations;
  if (
    f?.format !== VAULT_FORMAT ||
    f.kdf.name !== 'PBKDF2-SHA-256' ||
    !salt ||
    !iv ||
    iv.length !== 12 ||
    !ct ||
    !Number.isInteger(iterations) ||
    iterations < MIN_KDF_ITERATIONS ||
    iterations > 100_000_000
  )
    throw locked('not a Dure vault');
  const key = await deriveKey(passphrase, salt, iterations);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: iv as Uint8Array<ArrayBuffer>,
        additionalData: new TextEncoder().encode(VAULT_FORMAT),
      },
      key,
      ct as Uint8Array<ArrayBuffer>,
    );
  } catch (cause) {
    throw locked('wrong passphrase or altered file', cause);
  }
  return { contents: JSON.parse(new TextDecoder().decode(plain)) as T, seal: sealer<T>(key, f.kdf) };
}
