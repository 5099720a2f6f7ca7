/**
 * Disk full and descriptor limits, on a real small file system and a real `ulimit -n`:
 * - an upload that meets a full disk gets a typed 503 with Retry-After (which clients retry) and
 *   leaves no partial file; the same upload is accepted once there is room;
 * - aggregation that meets a full disk keeps the round `aggregating` with every update kept,
 *   `/readyz` says why (in Korean and English), and the retry after a backoff closes the round;
 * - aggregation of 110 participants completes under a descriptor limit 48 above what the process
 *   holds (it once opened one file per participant at once: EMFILE, round failed, every update
 *   discarded). The limit is set on the test's own process with prlimit once its modules and
 *   PGlite (one descriptor per relation file) are open: `ulimit -n` before start would measure
 *   module loading and PGlite, not aggregation.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors, type NamedTensor } from '../../src/protocol/safetensors.ts';
import { adapterTensorSpecs } from '../../src/protocol/lora.ts';
import { UPDATE_META, type Task } from '../../src/protocol/schemas.ts';
import type { InstitutionClient } from './testing/client.ts';
import { freshDataDir, startTestServer, tinyTask, type TestServer } from './testing/harness.ts';
import { mountSmallDisk, type SmallDisk } from './testing/small-disk.ts';
import { BoundedFiles } from './aggregation/bounded-files.ts';

async function shifted(inst: InstitutionClient, task: Task, delta: number): Promise<NamedTensor[]> {
  const r = await inst.request('GET', `/v1/tasks/${task.id}/adapters/latest`);
  const { tensors } = readSafetensors(r.body);
  return adapterTensorSpecs(task.modelShape, task.lora).map((s) => {
    const t = tensors.get(s.name)!;
    return { ...t, data: t.data.map((v) => v + delta) };
  });
}

/** Sets this process's soft limit on open files with prlimit(1); returns the one it replaced. */
function setOpenFileLimit(soft: number): { previous: number; applied: number } {
  const read = () => Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
  const previous = read();
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:`]);
  return { previous, applied: read() };
}

describe('a full disk', () => {
  let t: TestServer;
  let disk: SmallDisk;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await freshDataDir();
    disk = mountSmallDisk(join(dataDir, 'blobs'));
    t = await startTestServer({
      dataDir,
      options: {
        readiness: { minFreeBytes: 0 },
        coordinator: { resourceBackoff: { baseMs: 60_000, maxMs: 60_000 } },
      },
    });
  });
  afterAll(async () => {
    await t?.server.close();
    disk?.unmount();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const roundState = async (taskId: string) =>
    (await t.admin.call<{ rounds: { state: string }[] }>('GET', `/v1/admin/tasks/${taskId}`)).rounds.map(
      (r) => r.state,
    );
  const files = (sub: string) => readdirSync(join(disk.dir, sub));

  it('refuses an upload with a retryable 503, keeps updates through a failed aggregation, then closes the round', async () => {
    const task = await t.admin.call<Task>('POST', '/v1/admin/tasks', tinyTask({ rounds: 1 }));
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    const [a, b, c] = [await t.enroll('A 병원'), await t.enroll('B 구청'), await t.enroll('C 보건소')];
    await t.addMembers(task.id, [a, b, c]);
    expect((await a.uploadUpdate(task.id, 1, await shifted(a, task, 1), 10)).status).toBe(200);
    expect((await b.uploadUpdate(task.id, 1, await shifted(b, task, 3), 10)).status).toBe(200);
    const cUpdate = await shifted(c, task, 5);

    // The disk fills: C's upload is refused as "try again", nothing partial stays behind.
    expect(disk.fill()).toBeGreaterThan(0);
    const refused = await c.uploadUpdate(task.id, 1, cUpdate, 10);
    expect(refused.status).toBe(503);
    expect(refused.json<{ error: { code: string } }>().error.code).toBe('STORAGE_FULL');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(files('tmp')).toEqual([]);
    expect(files('updates')).toHaveLength(2);

    // Room again: the same bytes are accepted; every member is in, so the tick aggregates…
    disk.free();
    expect((await c.uploadUpdate(task.id, 1, cUpdate, 10)).status).toBe(200);
    disk.fill();
    await t.server.coordinator.tick();
    // …and meets the full disk writing the new adapter: the round waits, nothing is discarded.
    expect(await roundState(task.id)).toEqual(['aggregating']);
    expect(files('updates')).toHaveLength(3);
    expect(files('tmp')).toEqual([]);
    const kept = await t.server.db.query<{ blob: string | null }>(
      `SELECT blob FROM updates WHERE status = 'accepted'`,
    );
    expect(kept.filter((u) => u.blob !== null)).toHaveLength(3);
    const ready = await t.server.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    const pending = ready.json<{ disk: { pending: { code: string; ko: string; attempts: number } } }>().disk
      .pending;
    expect(pending).toMatchObject({ code: 'STORAGE_FULL', attempts: 1 });
    expect(pending.ko).toMatch(/디스크가 가득/);
    expect((await t.server.app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);

    // Within the backoff the tick does not hammer the disk; after it, with room, the round closes.
    await t.server.coordinator.tick();
    expect(t.server.coordinator.resourceFaults.current()?.attempts).toBe(1);
    disk.free();
    await t.server.coordinator.tick(Date.now() + 61_000);
    expect(await roundState(task.id)).toEqual(['closed']);
    const detail = await t.admin.call<{ task: Task; versions: { participants: string[] }[] }>(
      'GET',
      `/v1/admin/tasks/${task.id}`,
    );
    expect(detail.task.state).toBe('completed');
    expect(detail.versions[1]!.participants.sort()).toEqual([a.id, b.id, c.id].sort());
    expect((await t.server.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('descriptor limits', () => {
  it('keeps at most `max` files open while reading from many', async () => {
    let open = 0;
    let peak = 0;
    const files = new BoundedFiles(async (i) => {
      open++;
      peak = Math.max(peak, open);
      return { i, close: async () => void open-- };
    }, 8);
    const read = (i: number) => files.use(i, async (f) => (await new Promise((r) => setTimeout(r, 1)), f.i));
    const got = await Promise.all(Array.from({ length: 110 }, (_, i) => read(i)));
    expect(got).toEqual(Array.from({ length: 110 }, (_, i) => i));
    expect(peak).toBeLessThanOrEqual(8);
    await files.closeAll();
    expect(open).toBe(0);
  });

  it('aggregates 110 participants with descriptors for only 48 more files than the process holds', async () => {
    const t = await startTestServer({ options: { coordinator: { maxOpenUpdateFiles: 16 } } });
    try {
      const { coordinator, db } = t.server;
      const n = 110;
      const task = await coordinator.createTask(tinyTask({ rounds: 1 }));
      await coordinator.startTask(task.id);
      // Members straight in the database (two statements, not 220 audited transactions):
      // enrolment and signing are not what this measures; accepting and aggregating updates is.
      await db.query(
        `INSERT INTO institutions (id, name, status, created_at)
         SELECT 'inst_fd' || g, '기관 ' || g, 'active', 0 FROM generate_series(1, $1::integer) g`,
        [n],
      );
      await db.query(
        `INSERT INTO task_members (task_id, institution_id, added_at)
         SELECT $1, 'inst_fd' || g, 0 FROM generate_series(1, $2::integer) g`,
        [task.id, n],
      );
      const v0 = await coordinator.version(task.id, 0);
      const f = await v0.open();
      const { tensors } = readSafetensors(await f.readAll());
      await f.close();
      const specs = adapterTensorSpecs(task.modelShape, task.lora);
      for (let i = 1; i <= n; i++) {
        const bytes = writeSafetensors(
          specs.map((s) => ({
            ...tensors.get(s.name)!,
            data: tensors.get(s.name)!.data.map((v) => v + i * 1e-3),
          })),
          { [UPDATE_META.numExamples]: '10', [UPDATE_META.round]: '1' },
        );
        const path = join(t.dataDir, `update-${i}.safetensors`);
        writeFileSync(path, bytes);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        await coordinator.submitUpdate(`inst_fd${i}`, task.id, 1, { path, sha256 });
      }
      // A real limit on this process (the soft one, restored after): opening all 110 updates at
      // once, as aggregation once did, fails with EMFILE; bounded batches of 16 fit.
      const held = readdirSync('/proc/self/fd').length;
      const limit = setOpenFileLimit(held + 48);
      try {
        await coordinator.tick(); // every member is in: aggregate now
      } finally {
        setOpenFileLimit(limit.previous);
      }
      expect(limit.applied).toBe(held + 48);
      expect(coordinator.resourceFaults.current()).toBeUndefined();
      expect((await coordinator.rounds(task.id)).map((r) => r.state)).toEqual(['closed']);
      expect((await coordinator.versions(task.id))[1]?.participants).toHaveLength(n);
    } finally {
      await t.cleanup();
    }
  }, 60_000);
});
