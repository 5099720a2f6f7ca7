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
import type { Task, UpdateReceipt, WorkResponse } from '../../src/protocol/schemas.ts';
import { buildServer, type DureServer } from './app.ts';
import type { RoundEvent } from './coordinator.ts';
import { BlobStore } from './storage/blobs.ts';
import { AdminClient, httpTransport, InstitutionClient, type Transport } from './testing/client.ts';
import { goLive, spawnStandby, type Standby } from './testing/server-process.ts';
import { addMembers, injectTransport, tinyTask, TEST_ADMIN_TOKEN } from './testing/harness.ts';
import { startPostgres, tempDir, type PostgresInstance } from './testing/databases.ts';
import { createDatabase, leaderPid as leaderPidOf } from './testing/replica-set.ts';

let pgServer: PostgresInstance;
let databases = 0;
/** A fresh database on the shared test PostgreSQL. */
function freshDatabase(): Promise<string> {
  return createDatabase(pgServer.url, `replicas_${++databases}`);
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

  it("relays round events to the other replica's event streams, once", async () => {
    const heardByA: RoundEvent[] = [];
    const heardByB: RoundEvent[] = [];
    a.coordinator.on('round', (e) => heardByA.push(e));
    b.coordinator.on('round', (e) => heardByB.push(e));
    const event: RoundEvent = { taskId: 'task_relay', round: 7, state: 'closed' };
    a.coordinator.emit('round', event); // as a transition made in A would
    const since = Date.now();
    while (heardByB.length === 0 && Date.now() - since < 5000) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100)); // room for an echo, which must not come
    expect(heardByB).toEqual([event]);
    expect(heardByA).toEqual([event]);
  });

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

describe('three replica processes while the leader is SIGKILLed', () => {
  const INSTITUTIONS = 20;
  const ROUNDS = 4;
  const KILLS = 3;
  const live = new Map<number, { child: Standby['child']; url: string }>(); // by pid
  const standbys: Standby[] = [];
  let dataDir: string;
  afterAll(() => {
    for (const p of live.values()) p.child.kill('SIGKILL');
    for (const s of standbys) s.child.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'aggregates every acknowledged update exactly once, closes every round once, answers no 5xx',
    { timeout: 240_000 },
    async () => {
      const started = performance.now();
      const databaseUrl = await freshDatabase();
      dataDir = tempDir('dure-replicas-');
      const env = { DATABASE_URL: databaseUrl, DURE_LEADER_RETRY_MS: '150' };
      const spawnOne = () => {
        const s = spawnStandby(dataDir, env);
        standbys.push(s);
        return s;
      };
      const promote = async (s: Standby) => {
        const url = await goLive(s);
        standbys.splice(standbys.indexOf(s), 1);
        live.set(s.child.pid!, { child: s.child, url });
      };
      const first = [spawnOne(), spawnOne(), spawnOne()];
      let spare = spawnOne(); // loads its code while the others run
      await Promise.all(first.map(promote));
      const upSeconds = (performance.now() - started) / 1000;

      const serverErrors: string[] = [];
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const pick = () => {
        const urls = [...live.values()].map((p) => p.url);
        return urls[Math.floor(Math.random() * urls.length)]!;
      };
      // Each request goes to a random live replica; a refused connection (a killed process) throws.
      const send: Transport = async (m, u, h, b) => {
        const r = await httpTransport(pick())(m, u, h, b);
        if (r.status >= 500) serverErrors.push(`${m} ${u} → ${r.status} ${new TextDecoder().decode(r.body)}`);
        return r;
      };
      const retry = async <T>(fn: () => Promise<T>): Promise<T> => {
        for (;;) {
          try {
            return await fn();
          } catch {
            await sleep(20);
          }
        }
      };
      const admin = new AdminClient(send, TEST_ADMIN_TOKEN);
      const insts: InstitutionClient[] = [];
      for (let i = 0; i < INSTITUTIONS; i++)
        insts.push(await retry(() => InstitutionClient.enroll(send, admin, `기관 ${i}`)));
      const task = await admin.call<Task>(
        'POST',
        '/v1/admin/tasks',
        tinyTask({ rounds: ROUNDS, minParticipants: INSTITUTIONS, roundDeadlineSeconds: 300 }),
      );
      await addMembers(admin, task.id, insts, 1000);
      await admin.call('POST', `/v1/admin/tasks/${task.id}/start`);

      /** `${round}/${institutionId}` → the update id a client was told was accepted. */
      const acknowledged = new Map<string, number>();
      const delta = (i: number, round: number) => 0.01 * (i + 1) + 0.001 * round;
      let done = false;
      const clientLoop = async (i: number) => {
        const inst = insts[i]!;
        while (!done) {
          try {
            const work = (await inst.request('GET', `/v1/tasks/${task.id}/work`)).json<WorkResponse>();
            const ins = work.instructions;
            if (work.taskState !== 'running') break;
            // Submitted but never acknowledged (the replica died before answering): send the same
            // bytes again, which any replica recognises as the same update and acknowledges.
            if (ins && (!work.submitted || !acknowledged.has(`${ins.round}/${inst.id}`))) {
              const g = await inst.request('GET', `/v1/tasks/${task.id}/adapters/${ins.globalVersion}`);
              if (g.status !== 200) throw new Error(`adapter ${g.status}`);
              const { tensors } = readSafetensors(g.body);
              const update = adapterTensorSpecs(task.modelShape, task.lora).map((s) => ({
                ...tensors.get(s.name)!,
                data: tensors.get(s.name)!.data.map((v) => v + delta(i, ins.round)),
              }));
              const r = await inst.uploadUpdate(task.id, ins.round, update, i + 1);
              if (r.status === 200)
                acknowledged.set(`${ins.round}/${inst.id}`, r.json<UpdateReceipt>().updateId);
            }
            await sleep(30);
          } catch {
            await sleep(30); // a killed replica: the next try picks another
          }
        }
      };
      const loops = insts.map((_, i) => clientLoop(i));

      // The leader is the process whose connection holds the advisory lock (leader.ts).
      const operator = new pg.Client({ connectionString: databaseUrl });
      await operator.connect();
      const leaderPid = () => leaderPidOf(operator);
      const kills: number[] = [];
      try {
        for (let k = 1; k <= KILLS; k++) {
          // Mid-round k: some of its updates acknowledged, not all.
          while ([...acknowledged.keys()].filter((key) => key.startsWith(`${k}/`)).length < INSTITUTIONS / 2)
            await sleep(10);
          let pid: number | undefined;
          while (!(pid = await leaderPid()) || !live.has(pid)) await sleep(20);
          const victim = live.get(pid)!;
          live.delete(pid);
          const exited = new Promise((r) => victim.child.once('exit', r));
          victim.child.kill('SIGKILL');
          await exited;
          kills.push(pid);
          const next = spare;
          spare = spawnOne();
          await promote(next);
        }
        await Promise.race([Promise.all(loops), sleep(150_000)]);
        done = true;
        await Promise.all(loops);
      } finally {
        done = true;
        await operator.end();
      }

      // ── every acknowledged update aggregated exactly once, every round closed once ──
      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      try {
        const rounds = (
          await db.query<{ number: number; state: string }>(
            'SELECT number, state FROM rounds WHERE task_id = $1 ORDER BY number',
            [task.id],
          )
        ).rows;
        expect(rounds).toEqual(
          Array.from({ length: ROUNDS }, (_, i) => ({ number: i + 1, state: 'closed' })),
        );
        const closed = (
          await db.query<{ data: string }>(
            `SELECT data FROM audit_log WHERE type = 'round.closed' ORDER BY seq`,
          )
        ).rows.map(
          (r) => JSON.parse(r.data) as { round: number; updateIds: number[]; participants: string[] },
        );
        expect(closed.map((c) => c.round)).toEqual(Array.from({ length: ROUNDS }, (_, i) => i + 1));
        const aggregated = closed.flatMap((c) => c.updateIds);
        expect(new Set(aggregated).size).toBe(aggregated.length); // no update in two rounds or twice in one
        expect(aggregated).toHaveLength(INSTITUTIONS * ROUNDS); // every institution once per round
        for (const [key, id] of acknowledged) expect(aggregated, key).toContain(id); // none acknowledged lost
        // A round may close before a client whose answer was lost re-sends, so not every update is
        // acknowledged; the guard only keeps the check above from passing on (almost) nothing.
        expect(acknowledged.size).toBeGreaterThanOrEqual((INSTITUTIONS * ROUNDS) / 2);
        // And numerically: each version is its parent plus the example-weighted mean of the shifts.
        for (let v = 1; v <= ROUNDS; v++) {
          const get = async (version: number) =>
            readSafetensors((await admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/${version}`)).body)
              .tensors;
          const [parent, got] = [await get(v - 1), await get(v)];
          const weights = closed[v - 1]!.participants.map((id) => insts.findIndex((x) => x.id === id) + 1);
          expect(new Set(weights).size).toBe(INSTITUTIONS);
          const shift =
            weights.reduce((s, w) => s + w * delta(w - 1, v), 0) / weights.reduce((a, b) => a + b, 0);
          for (const [name, p] of parent)
            p.data.forEach((x, i) =>
              expect(Math.abs(got.get(name)!.data[i]! - (x + shift))).toBeLessThan(2e-6),
            );
        }
        const failedOrTwice = (
          await db.query(`SELECT type FROM audit_log WHERE type IN ('round.failed', 'task.failed')`)
        ).rows;
        expect(failedOrTwice).toEqual([]);
      } finally {
        await db.end();
      }
      expect(serverErrors).toEqual([]);
      expect(kills).toHaveLength(KILLS);
      const audit = await admin.call<{ ok: boolean }>('GET', '/v1/admin/audit/verify');
      expect(audit.ok).toBe(true);
      console.log(
        `replicas: ${KILLS} leader SIGKILLs, ${acknowledged.size} acknowledged updates over ${ROUNDS} rounds, ` +
          `${((performance.now() - started) / 1000).toFixed(1)} s (${upSeconds.toFixed(1)} s of it starting PostgreSQL's database and 3 replicas)`,
      );
    },
  );
});
