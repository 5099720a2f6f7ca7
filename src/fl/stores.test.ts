/**
 * Both round-client stores behave the same: the identity survives a reopen and its key still signs
 * (verified with the enrolled public key) without being extractable; round records sort, replace
 * and keep their bytes. IndexedDB runs on fake-indexeddb (structured clone, as in a browser).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'fake-indexeddb/auto'; // IndexedDB globals (IDBRequest…) as in a browser
import { afterAll, describe, expect, it } from 'vitest';
import {
  importPublicKey,
  signRequest,
  verifySignature,
  HEADER_NONCE,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  HEADER_CONTENT_SHA256,
} from '../protocol/signing.ts';
import { ClientStoreError } from './errors.ts';
import type { ClientStore, RoundRecord } from './store-api.ts';
import { openFileStore } from './store-file.ts';
import { openIdbStore } from './store-idb.ts';

const dir = mkdtempSync(join(tmpdir(), 'dure-fl-stores-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (taskId: string, round: number, bytes: number[]): RoundRecord => ({
  taskId,
  round,
  globalVersion: round - 1,
  stage: 'trained',
  update: Uint8Array.from(bytes),
  sha256: 'ab'.repeat(32),
  metrics: {
    numExamples: 3,
    steps: 2,
    stepLosses: [2.5, 2.25],
    trainLoss: 2.375,
    evalBefore: { loss: 2.6, perplexity: Math.exp(2.6), tokens: 10 },
    evalAfter: { loss: 2.4, perplexity: Math.exp(2.4), tokens: 10 },
    updateNorm: 0.5,
    clipped: false,
    trainA: true,
  },
  updatedAt: '2026-11-23T21:00:00.000Z',
});

const kinds: [string, () => Promise<[ClientStore, () => Promise<ClientStore>]>][] = [
  [
    'file',
    async () => {
      const path = join(dir, `s-${Math.random().toString(36).slice(2)}.json`);
      return [openFileStore(path), async () => openFileStore(path)];
    },
  ],
  [
    'IndexedDB',
    async () => {
      const name = `dure-test-${Math.random().toString(36).slice(2)}`;
      return [await openIdbStore(name), () => openIdbStore(name)];
    },
  ],
];

describe.each(kinds)('%s store', (_kind, open) => {
  it('keeps the identity across a reopen; its non-extractable key signs for the enrolled public key', async () => {
    const [store, reopen] = await open();
    expect(await store.getIdentity()).toBeUndefined();
    const { privateKey, publicKey } = await store.generateKeyPair();
    await store.putIdentity({
      serverUrl: 'http://localhost:8787',
      institutionId: 'inst_1',
      name: '행복시 보건소',
      publicKey,
      privateKey,
      enrolledAt: '2026-11-23T21:00:00.000Z',
    });
    await store.close();
    const again = await reopen();
    const id = await again.getIdentity();
    expect(id).toMatchObject({ institutionId: 'inst_1', name: '행복시 보건소', publicKey });
    expect(id!.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('pkcs8', id!.privateKey)).rejects.toThrow();
    const h = await signRequest(id!.privateKey, 'inst_1', 'GET', '/v1/tasks');
    const fields = {
      method: 'GET',
      path: '/v1/tasks',
      institutionId: 'inst_1',
      timestamp: h[HEADER_TIMESTAMP]!,
      nonce: h[HEADER_NONCE]!,
      contentSha256: h[HEADER_CONTENT_SHA256]!,
    };
    expect(await verifySignature(await importPublicKey(publicKey), fields, h[HEADER_SIGNATURE]!)).toBe(true);
    await again.close();
  });

  it('keeps a pending enrolment key across a reopen, and drops it when that key becomes the identity', async () => {
    const [store, reopen] = await open();
    expect(await store.getPendingKey()).toBeUndefined();
    const { privateKey, publicKey } = await store.generateKeyPair();
    const pending = {
      serverUrl: 'http://localhost:8787',
      publicKey,
      privateKey,
      createdAt: '2026-11-24T01:00:00.000Z',
    };
    await store.putPendingKey(pending);
    await store.close();
    // a reload after the reply was lost: the same key comes back, still not extractable
    const again = await reopen();
    const kept = await again.getPendingKey();
    expect(kept).toMatchObject({ serverUrl: pending.serverUrl, publicKey, createdAt: pending.createdAt });
    expect(kept!.privateKey.extractable).toBe(false);
    const h = await signRequest(kept!.privateKey, 'inst_p', 'GET', '/v1/tasks');
    const fields = {
      method: 'GET',
      path: '/v1/tasks',
      institutionId: 'inst_p',
      timestamp: h[HEADER_TIMESTAMP]!,
      nonce: h[HEADER_NONCE]!,
      contentSha256: h[HEADER_CONTENT_SHA256]!,
    };
    expect(await verifySignature(await importPublicKey(publicKey), fields, h[HEADER_SIGNATURE]!)).toBe(true);
    // the reloaded key (not the one generated before the reopen) is stored as the identity
    await again.putIdentity({
      serverUrl: kept!.serverUrl,
      institutionId: 'inst_p',
      name: '재시도 기관',
      publicKey,
      privateKey: kept!.privateKey,
      enrolledAt: '2026-11-24T01:00:01.000Z',
    });
    await again.close();
    const third = await reopen();
    expect(await third.getPendingKey()).toBeUndefined();
    expect(await third.getIdentity()).toMatchObject({ institutionId: 'inst_p', publicKey });
    await third.close();
  });

  it('lists rounds per task in order, replaces a round, and keeps update bytes', async () => {
    const [store, reopen] = await open();
    await store.putRound(record('task_a', 2, [1, 2, 3]));
    await store.putRound(record('task_a', 1, [9]));
    await store.putRound(record('task_b', 5, [7, 7]));
    await store.putRound({ ...record('task_a', 2, []), stage: 'uploaded' });
    await store.close();
    const again = await reopen();
    const rounds = await again.listRounds('task_a');
    expect(rounds.map((r) => [r.round, r.stage, Array.from(r.update)])).toEqual([
      [1, 'trained', [9]],
      [2, 'uploaded', []],
    ]);
    expect(rounds[0]!.update).toBeInstanceOf(Uint8Array);
    expect(rounds[0]!.metrics.evalAfter.loss).toBe(2.4);
    expect((await again.latestRound('task_b'))?.update).toEqual(Uint8Array.from([7, 7]));
    expect(await again.latestRound('task_c')).toBeUndefined();
    await again.close();
  });
});

describe('file store errors', () => {
  it('refuses a corrupt or foreign file and keys it did not generate, with ClientStoreError', async () => {
    const path = join(dir, 'corrupt.json');
    writeFileSync(path, '{"version":1,"rounds":[');
    await expect(openFileStore(path).getIdentity()).rejects.toBeInstanceOf(ClientStoreError);
    writeFileSync(path, '{"version":7,"rounds":[]}');
    await expect(openFileStore(path).listRounds('t')).rejects.toThrow(/unknown format/);
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const store = openFileStore(join(dir, 'foreign.json'));
    await expect(
      store.putIdentity({
        serverUrl: 'http://x',
        institutionId: 'i',
        name: 'n',
        publicKey: 'p',
        privateKey: pair.privateKey,
        enrolledAt: '',
      }),
    ).rejects.toMatchObject({ code: 'CLIENT_STORE' });
    await expect(
      store.putPendingKey({
        serverUrl: 'http://x',
        publicKey: 'p',
        privateKey: pair.privateKey,
        createdAt: '',
      }),
    ).rejects.toMatchObject({ code: 'CLIENT_STORE' });
  });
});
