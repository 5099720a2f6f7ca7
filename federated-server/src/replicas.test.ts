/**
 * Several server processes on one PostgreSQL. What was found before: both processes aggregated
 * the same round, rounds and tasks were failed twice, uploads got 500 unless blob folders were
 * shared, and a starting process deleted the other's in-progress uploads. Here two servers share
 * one database and one data directory in this process (so each race is driven deterministically),
 * then three real processes run rounds while the leader is SIGKILLed.
 */
import { utimesSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, type NamedTensor } from '../../src/protocol/safetensors.ts';
import { adapterTensorSpecs } from '../../src/protocol/lora.ts';
import type { Task, UpdateReceipt } from '../../src/protocol/schemas.ts';
import { buildServer, type DureServer } from './app.ts';
import { BlobStore } from './storage/blobs.ts';
import { AdminClient, InstitutionClient, type Transport } from './testing/client.ts';
import { addMembers, injectTransport, tinyTask, TEST_ADMIN_TOKEN } from './testing/harness.ts';
import { startPostgres, tempDir, type PostgresInstance } from './testing/databases.ts';

let pgServer: PostgresInstance;
let databases = 0;
/** A fresh database on the shared test PostgreSQL. */
async function freshDatabase(): Promise<string> {
  const name = `replicas_${++databases}`;
  const c = new pg.Client({ connectionString: pgServer.url });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return pgServer.url.replace(/\/postgres$/, `/${name}`);
}

beforeAll(async () => {
  pgServer = await startPostgres();
}, 120_000);
afterAll(() => pgServer?.stop());

/** An update: the global adapter with every trained value shifted by `delta`. */
async function shifted(inst: InstitutionClient, task: Task, delta: number): Promise<NamedTensor[]> {
  const r = await inst.request('GET', `/v1/tasks/${task.id}/adapters/latest`);
  if (r.status !== 200) throw new Error(`adapter: ${r.status} ${new TextDecoder().decode(r.body)}`);
  const { tensors } = readSafetensors(r.body);
  return adapterTensorSpecs(task.modelShape, task.lora).map((s) => {
    const t = tensors.get(s.name)!;
    return { ...t, data: t.data.map((v) => v + delta) };
  });
}

async function auditTypes(db: DureServer['db'], type: string): Promise<Array<Record<string, unknown>>> {
  const rows = await db.query<{ data: string }>('SELECT data FROM audit_log WHERE type = $1 ORDER BY seq', [
    type,
  ]);
  return rows.map((r) => JSON.parse(r.data) as Record<string, unknown>);
}

describe('two servers on one PostgreSQL and one data directory', () => {
  let a: DureServer;
  let b: DureServer;
  let dataDir: string;
  beforeAll(async () => {
    const databaseUrl = await freshDatabase();
    dataDir = tempDir('dure-replicas-');
    const opts = {
      dataDir,
      databaseUrl,
      adminToken: TEST_ADMIN_TOKEN,
      tickMs: 0,
      logger: false,
      leaderRetryMs: 50,
    };
    // Started together: migrations, the blob key and the server key are each made once.
    [a, b] = await Promise.all([buildServer(opts), buildServer(opts)]);
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('has exactly one leader, and the other takes over when it stops', async () => {
    expect([a.leadership.isLeader(), b.leadership.isLeader()].filter(Boolean)).toHaveLength(1);
  });

  it('accepts uploads on either, and closes a round once when both try to aggregate it', async () => {
    const sendA = injectTransport(a);
    const sendB = injectTransport(b);
    const admin = new AdminClient(sendA, TEST_ADMIN_TOKEN);
    const task = await admin.call<Task>(
      'POST',
      '/v1/admin/tasks',
      tinyTask({ rounds: 3, minParticipants: 2 }),
    );
    const insts: InstitutionClient[] = [];
    for (let i = 0; i < 4; i++)
      insts.push(await InstitutionClient.enroll(i % 2 ? sendB : sendA, admin, `기관 ${i}`));
    await addMembers(admin, task.id, insts, 1000);
    await admin.call('POST', `/v1/admin/tasks/${task.id}/start`);

    for (let round = 1; round <= 2; round++) {
      // Every institution uploads through the server it did not enroll with: blobs must be shared.
      const receipts = await Promise.all(
        insts.map(async (inst, i) => {
          const r = await inst.uploadUpdate(
            task.id,
            round,
            await shifted(inst, task, 0.01 * (i + 1)),
            10 + i,
          );
          expect(r.status).toBe(200);
          return r.json<UpdateReceipt>();
        }),
      );
      // Both processes try to aggregate the same round at the same moment.
      await Promise.all([a.coordinator.tick(), b.coordinator.tick()]);
      const closed = (await auditTypes(a.db, 'round.closed')).filter((d) => d['round'] === round);
      expect(closed).toHaveLength(1);
      expect((closed[0]!['updateIds'] as number[]).sort()).toEqual(receipts.map((r) => r.updateId).sort());
      expect(await auditTypes(a.db, 'round.aggregating')).toHaveLength(round);
    }
    const versions = await a.db.query<{ version: number }>(
      'SELECT version FROM adapter_versions WHERE task_id = $1 ORDER BY version',
      [task.id],
    );
    expect(versions.map((v) => v.version)).toEqual([0, 1, 2]);

    // Round 3 misses its deadline without quorum: both fail it at once; it fails once, opens round 4 once.
    const late = Date.now() + 3601 * 1000;
    await Promise.all([a.coordinator.tick(late), b.coordinator.tick(late)]);
    expect(await auditTypes(a.db, 'round.failed')).toHaveLength(1);
    const [t] = await a.db.query<{ consecutive_failures: number }>(
      'SELECT consecutive_failures FROM tasks WHERE id = $1',
      [task.id],
    );
    expect(t!.consecutive_failures).toBe(1);
    const rounds = await a.db.query<{ number: number; state: string }>(
      'SELECT number, state FROM rounds WHERE task_id = $1 ORDER BY number',
      [task.id],
    );
    expect(rounds).toEqual([
      { number: 1, state: 'closed' },
      { number: 2, state: 'closed' },
      { number: 3, state: 'failed' },
      { number: 4, state: 'open' },
    ]);
  }, 60_000);

  it('fails over: when the leader stops, the follower becomes leader', async () => {
    const [leader, follower] = a.leadership.isLeader() ? [a, b] : [b, a];
    await leader.leadership.close();
    const since = Date.now();
    while (!follower.leadership.isLeader() && Date.now() - since < 5000)
      await new Promise((r) => setTimeout(r, 20));
    expect(follower.leadership.isLeader()).toBe(true);
  });

  it("a starting replica keeps another's in-progress upload and removes only stale temp files", async () => {
    const tmp = join(dataDir, 'blobs', 'tmp');
    writeFileSync(join(tmp, 'in-progress.part'), 'being received by another replica');
    writeFileSync(join(tmp, 'crashed.part'), 'left by a crash two hours ago');
    const twoHoursAgo = (Date.now() - 2 * 3_600_000) / 1000;
    utimesSync(join(tmp, 'crashed.part'), twoHoursAgo, twoHoursAgo);
    await BlobStore.open(join(dataDir, 'blobs'), new Uint8Array(32));
    expect(existsSync(join(tmp, 'in-progress.part'))).toBe(true);
    expect(existsSync(join(tmp, 'crashed.part'))).toBe(false);
  });
});

export type { Transport };
