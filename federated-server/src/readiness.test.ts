import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkReadiness } from './readiness.ts';
import { startTestServer, type TestServer } from './testing/harness.ts';

describe('liveness and readiness', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.cleanup();
  });
  const get = async (url: string) => {
    const r = await t.server.app.inject({ method: 'GET', url });
    return { status: r.statusCode, body: r.json<Record<string, unknown>>() };
  };

  it('is live and ready while the database answers and the disk has room', async () => {
    expect(await get('/livez')).toEqual({ status: 200, body: { status: 'ok' } });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ready',
      ready: true,
      database: { ok: true },
      disk: { ok: true },
    });
    expect((ready.body['disk'] as { freeBytes: number }).freeBytes).toBeGreaterThan(0);
  });

  it('is not ready when the data directory has less free space than required', async () => {
    const r = await checkReadiness(t.server.db, t.dataDir, { minFreeBytes: Number.MAX_SAFE_INTEGER });
    expect(r.ready).toBe(false);
    expect(r.database.ok).toBe(true);
    expect(r.disk.reason).toMatch(/bytes free, below/);
  });

  it('is not ready when the database does not answer within the bound', async () => {
    const hung = { query: () => new Promise<never>(() => undefined) };
    const r = await checkReadiness(hung, t.dataDir, { databaseTimeoutMs: 50 });
    expect(r).toMatchObject({ ready: false, disk: { ok: true } });
    expect(r.database.reason).toMatch(/within 50 ms/);
  });

  it('answers 503 with the reason once the storage is closed, while staying live', async () => {
    await t.server.db.close();
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not ready', database: { ok: false } });
    expect(String((ready.body['database'] as { reason: string }).reason)).toMatch(/^database: /);
    expect(await get('/livez')).toEqual({ status: 200, body: { status: 'ok' } });
  });
});
