/**
 * The public adapter download as a polling widget sees it: strong ETag from the file's SHA-256,
 * `Cache-Control` per route (a numbered version is immutable, `latest` revalidates), bodiless 304
 * on a matching `If-None-Match`, the new file once an admin approves a new version, and CORS that
 * lets a portal's page send `If-None-Match` and read the headers the client checks. Signed and
 * admin downloads keep their old behaviour.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/protocol/safetensors.ts';
import type { Task } from '../../src/protocol/schemas.ts';
import { publicTinyTask, startTestServer, tinyTask, type TestServer } from './testing/harness.ts';
import { runSecureRound } from './testing/secure-round.ts';

const PORTAL = 'http://localhost:5173'; // an allowed origin of the default configuration
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const header = (r: { headers: Record<string, string> }, name: string) => r.headers[name];

describe('public adapter downloads: ETag, Cache-Control, 304, CORS', () => {
  let t: TestServer;
  let task: Task;
  const latest = () => `/v1/public/tasks/${task.id}/adapters/latest`;
  const get = (url: string, headers: Record<string, string> = {}) => t.send('GET', url, headers);

  beforeAll(async () => {
    t = await startTestServer();
    task = await t.admin.call<Task>(
      'POST',
      '/v1/admin/tasks',
      // public adapters need a cohort of at least 5 and DP, so secure aggregation (issue #15)
      publicTinyTask(),
    );
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
  });
  afterAll(() => t.cleanup());

  it('sends a strong ETag (the file SHA-256) and revalidation for latest, immutability for a version', async () => {
    const r = await get(latest());
    expect(r.status).toBe(200);
    const sha = sha256(r.body);
    expect(header(r, 'etag')).toBe(`"${sha}"`);
    expect(header(r, 'x-dure-adapter-sha256')).toBe(sha);
    expect(header(r, 'x-dure-adapter-version')).toBe('0');
    expect(header(r, 'cache-control')).toBe('public, no-cache');

    const v0 = await get(`/v1/public/tasks/${task.id}/adapters/0`);
    expect(v0.status).toBe(200);
    expect(header(v0, 'etag')).toBe(`"${sha}"`);
    expect(header(v0, 'cache-control')).toBe('public, max-age=31536000, immutable');
    expect(sha256(v0.body)).toBe(sha);
  });

  it('answers a matching If-None-Match with 304 and no body, and a different one with the file', async () => {
    const etag = header(await get(latest()), 'etag')!;
    const other = `"${'0'.repeat(64)}"`;
    for (const inm of [etag, `W/${etag}`, `${other}, ${etag}`, '*']) {
      const r = await get(latest(), { 'if-none-match': inm });
      expect([inm, r.status, r.body.byteLength]).toEqual([inm, 304, 0]);
      expect(header(r, 'etag')).toBe(etag);
      expect(header(r, 'cache-control')).toBe('public, no-cache');
      expect(header(r, 'x-dure-adapter-version')).toBe('0');
      expect(header(r, 'content-length')).toBeUndefined();
    }
    const miss = await get(latest(), { 'if-none-match': other });
    expect(miss.status).toBe(200);
    expect(`"${sha256(miss.body)}"`).toBe(etag);
    expect((await get(`/v1/public/tasks/${task.id}/adapters/0`, { 'if-none-match': etag })).status).toBe(304);
  });

  it('serves the new file with a new ETag once an admin approves a new version', async () => {
    const v0 = await get(latest());
    const oldTag = header(v0, 'etag')!;
    // five institutions return the global adapter shifted by 0.1, through secure aggregation
    const insts = [];
    for (let i = 0; i < 5; i++) insts.push(await t.enroll(`행복시청 ${i}`));
    await t.addMembers(task.id, insts);
    const tensors = [...readSafetensors(v0.body).tensors.values()].map((x) => ({
      ...x,
      data: x.data.map((v) => v + 0.1),
    }));
    const { outcomes } = await runSecureRound({
      institutions: insts,
      taskId: task.id,
      updates: insts.map(() => tensors),
      tick: () => t.server.coordinator.tick(),
    });
    expect(outcomes.every((o) => o !== 'dropped' && o.kind === 'contributed')).toBe(true);
    // the aggregate is a candidate: the widget's poll stays "not modified" until approval
    expect((await get(latest(), { 'if-none-match': oldTag })).status).toBe(304);
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/releases/1/evaluation`, {
      passed: true,
      summary: 'test evaluation',
    });
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/releases/1/approve`, {});

    const r = await get(latest(), { 'if-none-match': oldTag });
    expect(r.status).toBe(200);
    expect(header(r, 'x-dure-adapter-version')).toBe('1');
    const newTag = `"${sha256(r.body)}"`;
    expect(header(r, 'etag')).toBe(newTag);
    expect(newTag).not.toBe(oldTag);
    // the aggregate carries DP noise: it is a new adapter of the same tensors, not v0
    const got = readSafetensors(r.body).tensors;
    expect([...got.keys()].sort()).toEqual(tensors.map((x) => x.name).sort());
    const before = readSafetensors(v0.body).tensors;
    expect(tensors.some((x) => got.get(x.name)!.data.some((v, j) => v !== before.get(x.name)!.data[j]))).toBe(
      true,
    );
    expect((await get(latest(), { 'if-none-match': newTag })).status).toBe(304);
    // version 0 itself did not change
    expect((await get(`/v1/public/tasks/${task.id}/adapters/0`, { 'if-none-match': oldTag })).status).toBe(
      304,
    );
  });

  it('lets an allowed origin send If-None-Match and read ETag and the x-dure headers', async () => {
    const pre = await t.server.app.inject({
      method: 'OPTIONS',
      url: latest(),
      headers: {
        origin: PORTAL,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'if-none-match',
      },
    });
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(PORTAL);
    expect(String(pre.headers['access-control-allow-headers']).split(/,\s*/)).toContain('if-none-match');
    expect(pre.headers['access-control-max-age']).toBe('600');

    for (const inm of [undefined, header(await get(latest()), 'etag')!]) {
      const r = await get(latest(), { origin: PORTAL, ...(inm ? { 'if-none-match': inm } : {}) });
      expect(r.status).toBe(inm ? 304 : 200);
      expect(header(r, 'access-control-allow-origin')).toBe(PORTAL);
      const exposed = String(header(r, 'access-control-expose-headers')).toLowerCase().split(/,\s*/);
      expect(exposed).toEqual(
        expect.arrayContaining(['etag', 'x-dure-adapter-version', 'x-dure-adapter-sha256']),
      );
      expect(String(header(r, 'vary'))).toMatch(/origin/i); // shared caches keep per-origin answers apart
    }
    const evil = await get(latest(), { origin: 'https://evil.example' });
    expect(header(evil, 'access-control-allow-origin')).toBeUndefined();
    expect(header(evil, 'access-control-expose-headers')).toBeUndefined();
  });

  it('keeps private tasks hidden and signed/admin downloads unconditional', async () => {
    const priv = await t.admin.call<Task>('POST', '/v1/admin/tasks', tinyTask({ publicAdapters: false }));
    await t.admin.call('POST', `/v1/admin/tasks/${priv.id}/start`);
    const hidden = await get(`/v1/public/tasks/${priv.id}/adapters/latest`, { 'if-none-match': '*' });
    expect([hidden.status, header(hidden, 'etag')]).toEqual([404, undefined]);

    const inst = await t.enroll('국민건강보험공단');
    await t.addMembers(priv.id, [inst]);
    const admin = await t.admin.raw('GET', `/v1/admin/tasks/${priv.id}/adapters/latest`);
    const sha = header(admin, 'x-dure-adapter-sha256')!;
    expect(sha256(admin.body)).toBe(sha);
    const signed = await inst.request('GET', `/v1/tasks/${priv.id}/adapters/latest`, undefined, {
      'if-none-match': `"${sha}"`,
    });
    expect(signed.status).toBe(200);
    expect(sha256(signed.body)).toBe(sha);
    for (const r of [admin, signed]) {
      expect(header(r, 'etag')).toBeUndefined();
      expect(header(r, 'cache-control')).toBeUndefined();
    }
  });

  it('serves a byte range of the sealed file, decrypted', async () => {
    const whole = await get(latest());
    const part = await get(latest(), { range: 'bytes=8-23' });
    expect(part.status).toBe(206);
    expect(header(part, 'content-range')).toBe(`bytes 8-23/${whole.body.byteLength}`);
    expect(Buffer.from(part.body).equals(Buffer.from(whole.body.subarray(8, 24)))).toBe(true);
    const tail = await get(latest(), { range: 'bytes=-4' });
    expect(Buffer.from(tail.body).equals(Buffer.from(whole.body.subarray(-4)))).toBe(true);
    expect((await get(latest(), { range: `bytes=${whole.body.byteLength}-` })).status).toBe(416);
  });

  it('documents the conditional download in OpenAPI', async () => {
    const doc = (await get('/openapi.json')).json<{
      paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>>;
    }>();
    const op = doc.paths['/v1/public/tasks/{taskId}/adapters/{version}']!.get!;
    expect(Object.keys(op.responses).sort()).toEqual(['200', '304', '404']);
    expect(Object.keys(op.responses['200']!.headers ?? {})).toEqual(
      expect.arrayContaining(['etag', 'cache-control', 'x-dure-adapter-version', 'x-dure-adapter-sha256']),
    );
  });
});
