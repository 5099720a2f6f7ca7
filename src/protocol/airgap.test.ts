import { describe, expect, it } from 'vitest';
import {
  MAX_AIRGAP_FILE_BYTES,
  openGlobalAdapter,
  openInstitutionMessage,
  openServerDocument,
  sealInstitutionMessage,
  signServerDocument,
  verifyInstitutionMessage,
} from './airgap.ts';
import { toBase64Url } from './base64url.ts';
import { AirgapFileError } from './errors.ts';
import { generateInstitutionKeyPair, sha256Hex } from './signing.ts';

async function serverPair() {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const publicKey = toBase64Url(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)));
  return { privateKey: pair.privateKey, publicKey };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AirgapFileError);
    return (e as AirgapFileError).code;
  }
  throw new Error('accepted');
}

const advertise = { kind: 'secagg/advertise-keys', roundId: 'r1', clientId: 'c1' };

describe('institution messages', () => {
  it('carry the signed request exactly; a changed body, label or signature is caught', async () => {
    const inst = await generateInstitutionKeyPair();
    const other = await generateInstitutionKeyPair();
    const file = await sealInstitutionMessage({
      privateKey: inst.privateKey,
      institutionId: 'inst_a',
      taskId: 'task_x',
      round: 3,
      phase: 'advertise',
      body: advertise,
    });
    const { message, body } = await openInstitutionMessage(file);
    expect(message.request.path).toBe('/v1/tasks/task_x/rounds/3/secure/advertise');
    expect(JSON.parse(new TextDecoder().decode(body))).toEqual(advertise);
    expect(await verifyInstitutionMessage(message, inst.publicKey)).toBe(true);
    expect(await verifyInstitutionMessage(message, other.publicKey)).toBe(false);

    const doc = JSON.parse(file) as typeof message;
    const tamperedBody = {
      ...doc,
      request: { ...doc.request, body: toBase64Url(new TextEncoder().encode('{"x":1}')) },
    };
    expect(await refusal(openInstitutionMessage(JSON.stringify(tamperedBody)))).toBe('AIRGAP_BAD_SIGNATURE');
    // Relabelled for another round or phase: the signed path no longer matches.
    expect(await refusal(openInstitutionMessage(JSON.stringify({ ...doc, round: 4 })))).toBe(
      'AIRGAP_BAD_SIGNATURE',
    );
    expect(await refusal(openInstitutionMessage(JSON.stringify({ ...doc, phase: 'share' })))).toBe(
      'AIRGAP_BAD_SIGNATURE',
    );
    // Re-pointed at another task with the path changed too: the signature (over the path) fails.
    const moved = {
      ...doc,
      taskId: 'task_y',
      request: { ...doc.request, path: doc.request.path.replace('task_x', 'task_y') },
    };
    const reopened = await openInstitutionMessage(JSON.stringify(moved));
    expect(await verifyInstitutionMessage(reopened.message, inst.publicKey)).toBe(false);
    expect(await refusal(openInstitutionMessage(JSON.stringify({ ...doc, institutionId: 'inst_b' })))).toBe(
      'AIRGAP_BAD_SIGNATURE',
    );
  });

  it('refuses truncated, foreign and oversized files before parsing them', async () => {
    const inst = await generateInstitutionKeyPair();
    const masked = new Uint8Array(64).map((_, i) => i);
    const file = await sealInstitutionMessage({
      privateKey: inst.privateKey,
      institutionId: 'inst_a',
      taskId: 'task_x',
      round: 1,
      phase: 'masked',
      body: masked,
    });
    expect((await openInstitutionMessage(file)).body).toEqual(masked);
    expect(await refusal(openInstitutionMessage(file.slice(0, file.length - 20)))).toBe('AIRGAP_MALFORMED');
    expect(await refusal(openInstitutionMessage('{"format":"something-else"}'))).toBe('AIRGAP_MALFORMED');
    expect(await refusal(openInstitutionMessage(new Uint8Array(MAX_AIRGAP_FILE_BYTES + 1)))).toBe(
      'AIRGAP_TOO_LARGE',
    );
  });
});

describe('server documents', () => {
  it('open only with the pinned server key, for the kind asked, unaltered', async () => {
    const server = await serverPair();
    const impostor = await serverPair();
    const payload = {
      taskId: 'task_x',
      institutionId: 'inst_a',
      issuedAt: 1,
      work: null,
      round: 1,
      view: null,
    };
    const file = await signServerDocument(server.privateKey, server.publicKey, 'server-view', payload);
    expect(await openServerDocument(file, 'server-view', server.publicKey)).toEqual(payload);
    expect(await refusal(openServerDocument(file, 'server-view', impostor.publicKey))).toBe(
      'AIRGAP_BAD_SIGNATURE',
    );
    expect(await refusal(openServerDocument(file, 'global-adapter', server.publicKey))).toBe(
      'AIRGAP_WRONG_PHASE',
    );
    const doc = JSON.parse(file) as { payload: string };
    const altered = JSON.stringify({ ...doc, payload: doc.payload.replace('inst_a', 'inst_b') });
    expect(await refusal(openServerDocument(altered, 'server-view', server.publicKey))).toBe(
      'AIRGAP_BAD_SIGNATURE',
    );
    // An impostor's own signature over the altered payload is still not the pinned server's.
    const forged = await signServerDocument(impostor.privateKey, impostor.publicKey, 'server-view', payload);
    expect(await refusal(openServerDocument(forged, 'server-view', server.publicKey))).toBe(
      'AIRGAP_BAD_SIGNATURE',
    );
  });

  it('a global adapter is checked against its hash and task', async () => {
    const server = await serverPair();
    const bytes = new Uint8Array(300).map((_, i) => (i * 7) & 255);
    const payload = {
      taskId: 'task_x',
      version: 2,
      sha256: await sha256Hex(bytes),
      issuedAt: 5,
      adapter: toBase64Url(bytes),
    };
    const file = await signServerDocument(server.privateKey, server.publicKey, 'global-adapter', payload);
    expect((await openGlobalAdapter(file, server.publicKey, { taskId: 'task_x' })).bytes).toEqual(bytes);
    expect(await refusal(openGlobalAdapter(file, server.publicKey, { taskId: 'task_y' }))).toBe(
      'AIRGAP_WRONG_TASK',
    );
    const wrongHash = await signServerDocument(server.privateKey, server.publicKey, 'global-adapter', {
      ...payload,
      sha256: '0'.repeat(64),
    });
    expect(await refusal(openGlobalAdapter(wrongHash, server.publicKey))).toBe('AIRGAP_BAD_SIGNATURE');
  });
});
