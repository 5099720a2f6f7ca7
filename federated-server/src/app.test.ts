import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readSafetensors, writeSafetensors, type NamedTensor } from '../../src/protocol/safetensors.ts';
import { adapterTensorSpecs } from '../../src/protocol/lora.ts';
import { generateInstitutionKeyPair, HEADER_TIMESTAMP, signRequest } from '../../src/protocol/signing.ts';
import type { Task, UpdateReceipt, WorkResponse } from '../../src/protocol/schemas.ts';
import type { InstitutionClient } from './testing/client.ts';
import {
  publicTinyTask,
  startTestServer,
  tinyTask,
  TEST_ADMIN_TOKEN,
  TEST_METRICS_TOKEN,
  type TestServer,
} from './testing/harness.ts';
import { startPostgres, type PostgresInstance } from './testing/databases.ts';

/** The global adapter of a task, shifted by `delta` on every trained value. */
async function shiftedGlobal(
  inst: InstitutionClient,
  task: Task,
  delta: number,
  onlyB = false,
): Promise<NamedTensor[]> {
  const r = await inst.request('GET', `/v1/tasks/${task.id}/adapters/latest`);
  expect(r.status).toBe(200);
  const { tensors } = readSafetensors(r.body);
  const names = adapterTensorSpecs(task.modelShape, task.lora, { a: !onlyB, b: true }).map((s) => s.name);
  return names.map((n) => {
    const t = tensors.get(n)!;
    return { ...t, data: t.data.map((v) => v + delta) };
  });
}

interface AuditRow {
  type: string;
  actor: string;
  data: { institutionId?: string };
}

/** POST /v1/enroll with `code` and `publicKey`; the reply's status, body and error code. */
async function enrollWith(t: TestServer, code: string, publicKey: string) {
  const r = await t.send(
    'POST',
    '/v1/enroll',
    { 'content-type': 'application/json' },
    JSON.stringify({ code, publicKey }),
  );
  const body = r.json<{ institutionId?: string; name?: string; error?: { code: string } }>();
  return { status: r.status, body, error: body.error?.code };
}

/**
 * A lost enrolment reply: the client retries with the same code and key and must get the first
 * answer again (audited as a repeat), while the code with any other key stays refused, and a
 * signed request ends the repeat window. Run on both storage backends.
 */
async function checkRepeatedEnrolment(t: TestServer): Promise<void> {
  const { enrollmentCode } = await t.admin.call<{ enrollmentCode: string }>(
    'POST',
    '/v1/admin/institutions',
    {
      name: '재등록 보건소',
    },
  );
  const mine = await generateInstitutionKeyPair();
  const thief = await generateInstitutionKeyPair();
  const first = await enrollWith(t, enrollmentCode, mine.publicKey);
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ name: '재등록 보건소' });
  const id = first.body.institutionId!;

  const again = await enrollWith(t, enrollmentCode, mine.publicKey);
  expect(again).toEqual(first);
  expect(await enrollWith(t, enrollmentCode, thief.publicKey)).toMatchObject({
    status: 401,
    error: 'BAD_ENROLLMENT_CODE',
  });
  expect(await enrollWith(t, enrollmentCode, mine.publicKey)).toEqual(first);

  const audit = (await t.admin.call<AuditRow[]>('GET', '/v1/admin/audit?limit=1000')).filter(
    (e) => e.data.institutionId === id,
  );
  expect(audit.map((e) => e.type)).toEqual([
    'institution.created',
    'institution.enrolled',
    'institution.enrollment_repeated',
    'institution.enrollment_repeated',
  ]);
  // the refused attempt with the other key changed nothing: requests signed with it fail
  const forged = await signRequest(thief.privateKey, id, 'GET', '/v1/tasks');
  expect((await t.send('GET', '/v1/tasks', forged)).status).toBe(401);

  // the first signed request proves the reply arrived: the code stops working altogether
  const signed = await signRequest(mine.privateKey, id, 'GET', '/v1/tasks');
  expect((await t.send('GET', '/v1/tasks', signed)).status).toBe(200);
  expect(await enrollWith(t, enrollmentCode, mine.publicKey)).toMatchObject({
    status: 401,
    error: 'BAD_ENROLLMENT_CODE',
  });
  expect(await t.admin.call('GET', '/v1/admin/audit/verify')).toMatchObject({ ok: true });
}

describe('federated server over HTTP (PGlite)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.cleanup());

  it('answers /healthz and 404s unknown routes', async () => {
    const r = await t.send('GET', '/healthz', {});
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ok', service: 'dure-federated-server', storage: 'pglite' });
    expect((await t.send('GET', '/nope', {})).status).toBe(404);
  });

  it('requires the admin token on admin endpoints', async () => {
    expect((await t.send('GET', '/v1/admin/tasks', {})).status).toBe(401);
    const wrong = await t.send('GET', '/v1/admin/tasks', { authorization: 'Bearer wrong-token-wrong-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'wrong admin token' } });
    expect((await t.admin.raw('GET', '/v1/admin/tasks')).status).toBe(200);
  });

  it('enrolls with a one-time code and rejects unsigned, replayed, stale, forged and tampered requests', async () => {
    const { enrollmentCode } = await t.admin.call<{ enrollmentCode: string }>(
      'POST',
      '/v1/admin/institutions',
      { name: '서울대병원' },
    );
    const inst = await t.enroll('국민건강보험공단');
    // the code of another institution cannot be reused with another key after enrolment
    const enrollNewKey = async () =>
      t.send(
        'POST',
        '/v1/enroll',
        { 'content-type': 'application/json' },
        JSON.stringify({ code: enrollmentCode, publicKey: (await generateInstitutionKeyPair()).publicKey }),
      );
    expect((await enrollNewKey()).status).toBe(200);
    const reused = await enrollNewKey();
    expect(reused.status).toBe(401);
    expect(reused.json<{ error: { code: string } }>().error.code).toBe('BAD_ENROLLMENT_CODE');

    expect((await inst.request('GET', '/v1/tasks')).status).toBe(200);
    const code = async (r: Promise<{ status: number; json<T>(): T }>) => {
      const x = await r;
      return [x.status, x.json<{ error?: { code: string } }>().error?.code];
    };
    expect(await code(t.send('GET', '/v1/tasks', {}))).toEqual([401, 'UNSIGNED']);
    const headers = await inst.signedHeaders('GET', '/v1/tasks');
    expect((await t.send('GET', '/v1/tasks', headers)).status).toBe(200);
    expect(await code(t.send('GET', '/v1/tasks', headers))).toEqual([401, 'REPLAYED']);
    const stale = await inst.signedHeaders('GET', '/v1/tasks', undefined, Date.now() - 10 * 60 * 1000);
    expect(await code(t.send('GET', '/v1/tasks', stale))).toEqual([401, 'STALE_REQUEST']);
    const otherPath = await inst.signedHeaders('GET', '/v1/tasks?x=1');
    expect(await code(t.send('GET', '/v1/tasks', otherPath))).toEqual([401, 'BAD_SIGNATURE']);
    const tampered = await inst.signedHeaders('GET', '/v1/tasks');
    expect(
      await code(
        t.send('GET', '/v1/tasks', {
          ...tampered,
          [HEADER_TIMESTAMP]: String(Number(tampered[HEADER_TIMESTAMP]) + 1),
        }),
      ),
    ).toEqual([401, 'BAD_SIGNATURE']);
    // signed by a key that is not the institution's
    const stranger = await (await import('../../src/protocol/signing.ts')).generateInstitutionKeyPair();
    const forged = await signRequest(stranger.privateKey, inst.id, 'GET', '/v1/tasks');
    expect(await code(t.send('GET', '/v1/tasks', forged))).toEqual([401, 'BAD_SIGNATURE']);
  });

  it('answers a retried enrolment (same code, same key) like the first and refuses the code with another key', async () => {
    await checkRepeatedEnrolment(t);
  });

  it('accepts a repeated enrolment for a day after the first, not later', async () => {
    const { enrollmentCode } = await t.admin.call<{ enrollmentCode: string }>(
      'POST',
      '/v1/admin/institutions',
      { name: '하루 지난 의원' },
    );
    const { publicKey } = await generateInstitutionKeyPair();
    const first = await enrollWith(t, enrollmentCode, publicKey);
    expect(first.status).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 23 * 3600 * 1000 });
    try {
      expect(await enrollWith(t, enrollmentCode, publicKey)).toEqual(first);
      vi.setSystemTime(Date.now() + 2 * 3600 * 1000);
      expect(await enrollWith(t, enrollmentCode, publicKey)).toMatchObject({
        status: 401,
        error: 'BAD_ENROLLMENT_CODE',
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('runs a FedAvg round: validates updates, weights by capped examples, publishes version 1 with lineage', async () => {
    const task = await t.admin.call<Task>('POST', '/v1/admin/tasks', tinyTask({ rounds: 2 }));
    expect(task.state).toBe('created');
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    const [a, b] = [await t.enroll('A 병원'), await t.enroll('B 구청')];
    // the admin caps weights at 1000, so min(reported, 1000) weighs here; a third member stays out
    await t.addMembers(task.id, [a, b], 1000);
    await t.addMembers(task.id, [await t.enroll('A2 보건소')]);
    const work = (await a.request('GET', `/v1/tasks/${task.id}/work`)).json<WorkResponse>();
    expect(work.round).toMatchObject({ number: 1, state: 'open' });
    expect(work.instructions).toMatchObject({
      round: 1,
      globalVersion: 0,
      trainA: true,
      proximalMu: 0,
      localSteps: 10,
      maxUpdateNorm: 100,
    });

    const ua = await shiftedGlobal(a, task, 1);
    const ub = await shiftedGlobal(b, task, -3);
    const ra = await a.uploadUpdate(task.id, 1, ua, 30, 2.0);
    expect(ra.status).toBe(200);
    expect(ra.json<UpdateReceipt>()).toMatchObject({ round: 1, duplicate: false });
    // a retry of the same bytes is recognised; different bytes from the same institution are refused
    expect((await a.uploadUpdate(task.id, 1, ua, 30, 2.0)).json<UpdateReceipt>().duplicate).toBe(true);
    const again = await a.uploadUpdate(task.id, 1, ub, 30);
    expect([again.status, again.json<{ error: { code: string } }>().error.code]).toEqual([
      409,
      'DUPLICATE_UPDATE',
    ]);
    expect((await b.uploadUpdate(task.id, 1, ub, 10, 4.0)).status).toBe(200);

    await t.server.coordinator.tick(); // quorum 2 reached but not every member is in
    expect((await a.request('GET', `/v1/tasks/${task.id}/work`)).json<WorkResponse>().round?.number).toBe(1);
    await t.server.coordinator.tick(Date.now() + 3601 * 1000); // deadline passed → aggregate
    const detail = await t.admin.call<{
      task: Task;
      rounds: { state: string; metrics: Record<string, number> }[];
      versions: { version: number; parentVersion: number; participants: string[] }[];
    }>('GET', `/v1/admin/tasks/${task.id}`);
    expect(detail.rounds.map((r) => r.state)).toEqual(['closed', 'open']);
    expect(detail.rounds[0]!.metrics).toMatchObject({ participants: 2, numExamples: 40, trainLoss: 2.5 });
    expect(detail.versions.map((v) => [v.version, v.parentVersion])).toEqual([
      [0, null],
      [1, 0],
    ]);
    expect(detail.versions[1]!.participants.sort()).toEqual([a.id, b.id].sort());

    // v1 = (30·ua + 10·ub) / 40 per value, i.e. v0 + (30·1 − 10·3)/40 = v0 up to float32 rounding
    const v0 = readSafetensors(
      (await t.admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/0`)).body,
    ).tensors;
    const v1 = readSafetensors((await a.request('GET', `/v1/tasks/${task.id}/adapters/1`)).body).tensors;
    ua.forEach((x, k) => {
      const expected = x.data.map((v, i) => 0.75 * v + 0.25 * ub[k]!.data[i]!);
      expect(Array.from(v1.get(x.name)!.data)).toEqual(Array.from(expected));
      v0.get(x.name)!.data.forEach((v, i) => expect(v1.get(x.name)!.data[i]).toBeCloseTo(v, 5));
    });
    // a late update for the closed round is refused
    const late = await b.uploadUpdate(task.id, 1, ub, 10);
    expect([late.status, late.json<{ error: { code: string } }>().error.code]).toEqual([409, 'LATE_UPDATE']);
    // not public: widgets cannot download without signing
    expect((await t.send('GET', `/v1/public/tasks/${task.id}/adapters/latest`, {})).status).toBe(404);
  });

  it('refuses malformed, mis-shaped, non-finite, out-of-bound and oversized updates with reasons in the audit log', async () => {
    const task = await t.admin.call<Task>('POST', '/v1/admin/tasks', tinyTask({ maxUpdateNorm: 5 }));
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    const c = await t.enroll('C 보건소');
    await t.addMembers(task.id, [c]);
    const good = await shiftedGlobal(c, task, 0.1);
    const reason = async (p: Promise<{ status: number; json<T>(): T }>) => {
      const r = await p;
      return [r.status, r.json<{ error: { code: string } }>().error.code];
    };
    const url = `/v1/tasks/${task.id}/rounds/1/updates`;
    expect(await reason(c.request('POST', url, new Uint8Array([1, 2, 3])))).toEqual([400, 'BAD_SAFETENSORS']);
    expect(await reason(c.uploadUpdate(task.id, 1, good.slice(1), 5))).toEqual([422, 'WRONG_TENSORS']);
    const misShaped = good.map((x, i) => (i === 0 ? { ...x, shape: [x.shape[1]!, x.shape[0]!] } : x));
    expect(await reason(c.uploadUpdate(task.id, 1, misShaped, 5))).toEqual([422, 'WRONG_SHAPE']);
    const nan = good.map((x, i) => (i === 1 ? { ...x, data: x.data.map((v, j) => (j === 0 ? NaN : v)) } : x));
    expect(await reason(c.uploadUpdate(task.id, 1, nan, 5))).toEqual([422, 'NON_FINITE']);
    expect(await reason(c.uploadUpdate(task.id, 1, await shiftedGlobal(c, task, 10), 5))).toEqual([
      422,
      'NORM_EXCEEDED',
    ]);
    expect(await reason(c.uploadUpdate(task.id, 1, good, 0))).toEqual([422, 'BAD_METADATA']);
    expect(await reason(c.uploadUpdate(task.id, 2, good, 5))).toEqual([409, 'WRONG_ROUND']);
    const huge = writeSafetensors([{ name: 'x', shape: [100_000], data: new Float32Array(100_000) }]);
    expect(await reason(c.request('POST', url, huge))).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(await reason(c.request('POST', url, JSON.stringify({ not: 'binary' })))).toEqual([
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ]);
    // body swapped after signing
    const headers = await c.signedHeaders('POST', url, writeSafetensors(good, { 'dure.num_examples': '5' }));
    const swapped = await t.send(
      'POST',
      url,
      { ...headers, 'content-type': 'application/octet-stream' },
      writeSafetensors(good, { 'dure.num_examples': '6' }),
    );
    expect(swapped.status).toBe(401);
    expect((await c.uploadUpdate(task.id, 1, good, 5)).status).toBe(200);

    const audit = await t.admin.call<{ type: string; data: { reason?: string; taskId?: string } }[]>(
      'GET',
      '/v1/admin/audit?limit=1000',
    );
    const reasons = audit
      .filter((e) => e.type === 'update.rejected' && e.data.taskId === task.id)
      .map((e) => e.data.reason);
    expect(reasons).toEqual([
      'BAD_SAFETENSORS',
      'WRONG_TENSORS',
      'WRONG_SHAPE',
      'NON_FINITE',
      'NORM_EXCEEDED',
      'BAD_METADATA',
      'WRONG_ROUND',
    ]);
    expect(audit.some((e) => e.type === 'update.accepted' && e.data.taskId === task.id)).toBe(true);
  });

  it('fails a round without quorum at the deadline and restarts from the last global adapter', async () => {
    const task = await t.admin.call<Task>(
      'POST',
      '/v1/admin/tasks',
      tinyTask({ minParticipants: 2, roundDeadlineSeconds: 60 }),
    );
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    const d = await t.enroll('D 시청');
    await t.addMembers(task.id, [d]);
    expect((await d.uploadUpdate(task.id, 1, await shiftedGlobal(d, task, 0.5), 3)).status).toBe(200);
    await t.server.coordinator.tick(Date.now() + 61_000);
    const detail = await t.admin.call<{
      rounds: { number: number; state: string; globalVersion: number; failureReason: string }[];
    }>('GET', `/v1/admin/tasks/${task.id}`);
    expect(detail.rounds[0]).toMatchObject({
      state: 'failed',
      globalVersion: 0,
      failureReason: 'quorum not reached: 1 of 2 updates',
    });
    expect(detail.rounds[1]).toMatchObject({ number: 2, state: 'open', globalVersion: 0 });
  });

  it('revokes an institution: its requests are refused and its pending update is withdrawn', async () => {
    const task = await t.admin.call<Task>(
      'POST',
      '/v1/admin/tasks',
      tinyTask({ minParticipants: 2, roundDeadlineSeconds: 60 }),
    );
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    const e = await t.enroll('E 의원');
    await t.addMembers(task.id, [e]);
    expect((await e.uploadUpdate(task.id, 1, await shiftedGlobal(e, task, 0.5), 3)).status).toBe(200);
    expect(
      await t.admin.call('POST', `/v1/admin/institutions/${e.id}/revoke`, { reason: '키 유출' }),
    ).toEqual({ withdrawnUpdates: 1 });
    const r = await e.request('GET', `/v1/tasks/${task.id}/work`);
    // the same answer as an unknown institution or a forged signature (see abuse.test.ts)
    expect([r.status, r.json<{ error: { code: string } }>().error.code]).toEqual([401, 'BAD_SIGNATURE']);
    await t.server.coordinator.tick(Date.now() + 61_000);
    const detail = await t.admin.call<{ rounds: { state: string; participants: { status: string }[] }[] }>(
      'GET',
      `/v1/admin/tasks/${task.id}`,
    );
    expect(detail.rounds[0]!.state).toBe('failed');
    expect(detail.rounds[0]!.participants.map((p) => p.status)).toEqual(['revoked']);
  });

  it('streams round state changes to a subscribed institution (server-sent events)', async () => {
    const task = await t.admin.call<Task>(
      'POST',
      '/v1/admin/tasks',
      tinyTask({ minParticipants: 2, rounds: 1 }),
    );
    const f = await t.enroll('F 구청');
    const g = await t.enroll('G 구청');
    await t.addMembers(task.id, [f, g]);
    await t.server.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.server.app.server.address() as { port: number };
    const url = `/v1/tasks/${task.id}/events`;
    const res = await fetch(`http://127.0.0.1:${port}${url}`, { headers: await f.signedHeaders('GET', url) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (needle: string) => {
      while (!text.includes(needle)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    await until('"state":"open"');
    expect((await f.uploadUpdate(task.id, 1, await shiftedGlobal(f, task, 0.1), 2)).status).toBe(200);
    await until('"state":"collecting"');
    expect((await g.uploadUpdate(task.id, 1, await shiftedGlobal(g, task, 0.2), 2)).status).toBe(200);
    await t.server.coordinator.tick(Date.now() + 3601 * 1000);
    await until('"state":"closed"');
    expect(text).toMatch(/event: round\ndata: \{"taskId":"task_[^"]+","round":1,"state":"open"\}/);
    expect(text.indexOf('"aggregating"')).toBeLessThan(text.indexOf('"closed"'));
    await reader.cancel();
  });

  it('publishes adapters publicly only when the operator allows it', async () => {
    const task = await t.admin.call<Task>(
      'POST',
      '/v1/admin/tasks',
      publicTinyTask(), // k ≥ 5 and DP under secure aggregation (issue #15)
    );
    const r = await t.send('GET', `/v1/public/tasks/${task.id}/adapters/latest`, {});
    expect(r.status).toBe(200);
    expect(r.headers['x-dure-adapter-version']).toBe('0');
    expect(readSafetensors(r.body).tensors.size).toBe(4);
  });

  it('serves an OpenAPI document listing every endpoint with its auth requirement', async () => {
    const doc = (await t.send('GET', '/openapi.json', {})).json<{
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    }>();
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([m, op]) => ({ path, m, op })),
    );
    expect(ops.length).toBeGreaterThanOrEqual(18);
    for (const { op } of ops) expect(op.security).toBeDefined();
    const sec = (p: string, m: string) => JSON.stringify(doc.paths[p]![m]!.security);
    expect(sec('/v1/admin/tasks', 'post')).toBe('[{"adminToken":[]}]');
    expect(sec('/v1/tasks/{taskId}/rounds/{round}/updates', 'post')).toBe('[{"institutionSignature":[]}]');
    expect(sec('/v1/enroll', 'post')).toBe('[]');
  });

  it('exposes Prometheus metrics', async () => {
    const text = new TextDecoder().decode(
      (await t.send('GET', '/metrics', { authorization: `Bearer ${TEST_METRICS_TOKEN}` })).body,
    );
    expect(text).toMatch(/^# TYPE dure_updates_accepted_total counter$/m);
    expect(text).toMatch(/^dure_updates_rejected_total\{reason="NORM_EXCEEDED"\} 1$/m);
    expect(text).toMatch(/^dure_rounds_total\{outcome="closed"\} 2$/m);
    expect(text).toMatch(/^dure_institutions\{status="active"\} \d+$/m);
  });

  it('answers CORS preflights only for allowed origins', async () => {
    const pre = (origin: string) =>
      t.server.app.inject({
        method: 'OPTIONS',
        url: '/v1/tasks',
        headers: { origin, 'access-control-request-method': 'GET' },
      });
    expect((await pre('http://localhost:5173')).headers['access-control-allow-origin']).toBe(
      'http://localhost:5173',
    );
    expect((await pre('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('keeps the audit chain valid', async () => {
    const v = await t.admin.call<{ ok: boolean; entries: number }>('GET', '/v1/admin/audit/verify');
    expect(v.ok).toBe(true);
    expect(v.entries).toBeGreaterThan(30);
  });
});

describe('admin token', () => {
  it('is generated once on first start, stored hashed, and not re-generated', async () => {
    const t = await startTestServer({ adminToken: null });
    const token = t.server.generatedAdminToken!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const ok = await t.send('GET', '/v1/admin/tasks', { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    const stored = await t.server.db.query<{ name: string; token_sha256: string }>(
      'SELECT name, token_sha256 FROM admins',
    );
    expect(stored.map((a) => a.name)).toEqual(['bootstrap']);
    expect(stored[0]!.token_sha256).not.toContain(token);
    expect(stored[0]!.token_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(
      (await t.send('GET', '/v1/admin/tasks', { authorization: `Bearer ${TEST_ADMIN_TOKEN}` })).status,
    ).toBe(401);
    await t.cleanup();
  });
});

describe('the same server on PostgreSQL (DATABASE_URL)', () => {
  let pg: PostgresInstance;
  let t: TestServer;
  beforeAll(async () => {
    pg = await startPostgres();
    t = await startTestServer({ databaseUrl: pg.url });
  });
  afterAll(async () => {
    await t?.cleanup();
    pg?.stop();
  });

  it('runs enrollment, a round, the registry and the audit chain', async () => {
    expect((await t.send('GET', '/healthz', {})).json()).toMatchObject({ storage: 'postgres' });
    const task = await t.admin.call<Task>(
      'POST',
      '/v1/admin/tasks',
      tinyTask({ strategy: { name: 'ffa-lora' }, rounds: 1 }),
    );
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    const [a, b] = [await t.enroll('가 기관'), await t.enroll('나 기관')];
    await t.addMembers(task.id, [a, b], 1000);
    const work = (await a.request('GET', `/v1/tasks/${task.id}/work`)).json<WorkResponse>();
    expect(work.instructions?.trainA).toBe(false);
    // FFA-LoRA: only lora_B is sent; sending A too is refused
    expect((await a.uploadUpdate(task.id, 1, await shiftedGlobal(a, task, 0.5), 1)).status).toBe(422);
    expect((await a.uploadUpdate(task.id, 1, await shiftedGlobal(a, task, 0.5, true), 1)).status).toBe(200);
    expect((await b.uploadUpdate(task.id, 1, await shiftedGlobal(b, task, 0.1, true), 3)).status).toBe(200);
    await t.server.coordinator.tick(); // everyone is in: closes without waiting for the deadline
    const detail = await t.admin.call<{ task: Task; versions: { version: number }[] }>(
      'GET',
      `/v1/admin/tasks/${task.id}`,
    );
    expect(detail.task.state).toBe('completed');
    const v0 = readSafetensors((await a.request('GET', `/v1/tasks/${task.id}/adapters/0`)).body).tensors;
    const v1 = readSafetensors((await a.request('GET', `/v1/tasks/${task.id}/adapters/1`)).body).tensors;
    for (const [name, x] of v0) {
      const shift = name.includes('lora_A') ? 0 : (1 * 0.5 + 3 * 0.1) / 4;
      x.data.forEach((v, i) => expect(v1.get(name)!.data[i]).toBeCloseTo(v + shift, 6));
    }
    expect(await t.admin.call('GET', '/v1/admin/audit/verify')).toMatchObject({ ok: true });
  });

  it('answers a retried enrolment like the first, and serialises concurrent uses of one code', async () => {
    await checkRepeatedEnrolment(t);
    // the same code from two keys at once: exactly one key is bound, the other refused
    const { enrollmentCode } = await t.admin.call<{ enrollmentCode: string }>(
      'POST',
      '/v1/admin/institutions',
      { name: '동시 등록 기관' },
    );
    const keys = await Promise.all([generateInstitutionKeyPair(), generateInstitutionKeyPair()]);
    const both = await Promise.all(keys.map((k) => enrollWith(t, enrollmentCode, k.publicKey)));
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
    const winner = keys[both.findIndex((r) => r.status === 200)]!;
    expect(await enrollWith(t, enrollmentCode, winner.publicKey)).toEqual(both.find((r) => r.status === 200));
  });
});
