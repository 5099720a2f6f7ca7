import { describe, expect, it } from 'vitest';
import {
  canonicalRequest,
  generateInstitutionKeyPair,
  HEADER_CONTENT_SHA256,
  HEADER_NONCE,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  importPublicKey,
  sha256Hex,
  signRequest,
  verifySignature,
  type SignedFields,
} from './signing.ts';
import { SignatureError } from './errors.ts';

async function signedFields(body: string) {
  const { privateKey, publicKey } = await generateInstitutionKeyPair();
  const h = await signRequest(privateKey, 'inst1', 'POST', '/v1/x?y=1', body);
  const fields: SignedFields = {
    method: 'POST',
    path: '/v1/x?y=1',
    institutionId: 'inst1',
    timestamp: h[HEADER_TIMESTAMP]!,
    nonce: h[HEADER_NONCE]!,
    contentSha256: h[HEADER_CONTENT_SHA256]!,
  };
  return { key: await importPublicKey(publicKey), fields, sig: h[HEADER_SIGNATURE]!, privateKey };
}

describe('request signing', () => {
  it('hashes the body with SHA-256 (known vector)', async () => {
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('verifies a signature over the canonical request', async () => {
    const { key, fields, sig } = await signedFields('{"a":"한글"}');
    expect(fields.contentSha256).toBe(await sha256Hex('{"a":"한글"}'));
    expect(await verifySignature(key, fields, sig)).toBe(true);
    expect(canonicalRequest(fields).split('\n')).toHaveLength(7);
  });

  it.each(['method', 'path', 'institutionId', 'timestamp', 'nonce', 'contentSha256'] as const)(
    'rejects a request whose %s was changed',
    async (field) => {
      const { key, fields, sig } = await signedFields('body');
      expect(await verifySignature(key, { ...fields, [field]: fields[field] + 'x' }, sig)).toBe(false);
    },
  );

  it('rejects a signature by another key and malformed signatures', async () => {
    const a = await signedFields('body');
    const b = await signedFields('body');
    expect(await verifySignature(b.key, a.fields, a.sig)).toBe(false);
    expect(await verifySignature(a.key, a.fields, 'not-base64!')).toBe(false);
    expect(await verifySignature(a.key, a.fields, a.sig.slice(0, 20))).toBe(false);
  });

  it('keeps the private key non-extractable', async () => {
    const { privateKey } = await generateInstitutionKeyPair();
    expect(privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('pkcs8', privateKey)).rejects.toThrow();
  });

  it('rejects malformed public keys with SignatureError', async () => {
    await expect(importPublicKey('short')).rejects.toThrow(SignatureError);
  });
});
