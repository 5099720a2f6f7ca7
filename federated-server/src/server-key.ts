/**
 * The server's own Ed25519 signing key, used to sign what leaves the server as a file for an
 * air-gapped institution (its view of a round, a global adapter; src/protocol/airgap.ts). Made on
 * first start and kept in the data directory (mode 0600) like the blob key; its public key is
 * served at `GET /v1/server-key` and shown to the operator, who hands it to the institution once
 * (the institution pins it in its vault).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serverKeyId } from '../../src/protocol/airgap.ts';
import { createOnce } from './storage/create-once.ts';

export const SERVER_KEY_FILE = 'server-signing-key.jwk';

export interface ServerKey {
  privateKey: CryptoKey;
  /** Raw 32-byte public key, base64url. */
  publicKey: string;
  keyId: string;
}

/** Loads the data directory's server key, creating it on first start. */
export async function loadServerKey(dataDir: string): Promise<ServerKey> {
  return loadSigningKey(join(dataDir, SERVER_KEY_FILE));
}

/**
 * Loads an Ed25519 signing key kept as a private JWK in `file`, creating it (0600) if absent. Also
 * used for the audit head (DURE_AUDIT_KEY_FILE; ./audit-head.ts), whose key the database must not hold.
 */
export async function loadSigningKey(file: string): Promise<ServerKey> {
  // Replicas sharing a data directory and starting together all end up with the one key written.
  const jwk = JSON.parse(
    await createOnce(file, async () => {
      const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
        'sign',
        'verify',
      ])) as CryptoKeyPair;
      return `${JSON.stringify(await crypto.subtle.exportKey('jwk', pair.privateKey))}\n`;
    }),
  ) as JsonWebKey;
  const privateKey = await crypto.subtle.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['sign']);
  return { privateKey, publicKey: jwk.x!, keyId: await serverKeyId(jwk.x!) };
}

/** The public half (raw, base64url) of a key file written by `loadSigningKey`, or undefined if absent. */
export async function readSigningPublicKey(file: string): Promise<string | undefined> {
  if (!existsSync(file)) return undefined;
  return (JSON.parse(await readFile(file, 'utf8')) as JsonWebKey).x;
}
