/**
 * Issue #15's findings, tried as an attacker would, as regression tests: task membership, the
 * minimum cohort k, weights no client can inflate, a registry that shows peers aggregate facts
 * only, and uploads neither kept after their round nor stored in the clear.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, type NamedTensor } from '../../src/protocol/safetensors.ts';
import { adapterTensorSpecs } from '../../src/protocol/lora.ts';
import type { Task } from '../../src/protocol/schemas.ts';
import { BlobIntegrityError } from '../../src/protocol/errors.ts';
import type { InstitutionClient } from './testing/client.ts';
import { startTestServer, tinyTask, type TestServer } from './testing/harness.ts';
import { BlobStore } from './storage/blobs.ts';
import { tempDir } from './testing/databases.ts';

/** The latest global adapter's trained tensors, each value shifted by `delta(i)`. */
async function update(t: TestServer, task: Task, delta: (i: number) => number): Promise<NamedTensor[]> {
  const r = await t.admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/latest`);
  const { tensors } = readSafetensors(r.body);
  return adapterTensorSpecs(task.modelShape, task.lora).map((s) => {
    const g = tensors.get(s.name)!;
    return { ...g, data: g.data.map((v, i) => v + delta(i)) };
  });
}

async function latest(t: TestServer, task: Task): Promise<Map<string, Float32Array>> {
  const r = await t.admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/latest`);
  return new Map([...readSafetensors(r.body).tensors].map(([k, v]) => [k, v.data as Float32Array]));
}

const maxDiff = (a: Map<string, Float32Array>, b: NamedTensor[]) =>
  Math.max(...b.map((t) => Math.max(...t.data.map((v, i) => Math.abs(v - a.get(t.name)![i]!)))));

const errorOf = (r: { status: number; json: <T>() => T }) => ({
  status: r.status,
  code: r.json<{ error: { code: string } }>().error.code,
});

describe('issue #15 regressions', () => {
  let t: TestServer;
  let insts: InstitutionClient[];
  const oldUmask = process.umask(0); // files and directories must be private whatever the umask
  beforeAll(async () => {
    t = await startTestServer();
    insts = [];
    for (const name of ['서울병원', '부산병원', '대구병원', '외부기관']) insts.push(await t.enroll(name));
  });
  afterAll(async () => {
    process.umask(oldUmask);
    await t.cleanup();
  });

  async function started(spec: Parameters<typeof tinyTask>[0], members: InstitutionClient[], cap?: number) {
    const task = await t.admin.call<Task>('POST', '/v1/admin/tasks', tinyTask(spec));
    await t.addMembers(task.id, members, cap);
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    return task;
  }

  it('no task membership: a non-member gets the same 404 as an unknown task, everywhere', async () => {
    const [a, b, , outsider] = insts as [
      InstitutionClient,
      InstitutionClient,
      InstitutionClient,
      InstitutionClient,
    ];
    const task = await started({ rounds: 1 }, [a, b]);
    const ghost = 'task_doesnotexist';
    const routes = (id: string) => [
      ['GET', `/v1/tasks/${id}/work`],
      ['GET', `/v1/tasks/${id}/events`],
      ['GET', `/v1/tasks/${id}/adapters`],
      ['GET', `/v1/tasks/${id}/adapters/latest`],
    ];
    for (const [[m, url], [, ghostUrl]] of routes(task.id).map((r, i) => [r, routes(ghost)[i]!] as const)) {
      const mine = await outsider.request(m!, url!);
      const unknown = await outsider.request(m!, ghostUrl!);
      expect([url, errorOf(mine)]).toEqual([url, errorOf(unknown)]);
      expect(mine.json<{ error: { message: string } }>().error.message).toBe(`no task ${task.id}`);
    }
    const up = await outsider.uploadUpdate(task.id, 1, await update(t, task, () => 0.01), 10);
    expect(errorOf(up)).toEqual({ status: 404, code: 'NOT_FOUND' });
    const list = (c: InstitutionClient) =>
      c.request('GET', '/v1/tasks').then((r) => r.json<{ id: string }[]>().map((x) => x.id));
    expect(await list(outsider)).not.toContain(task.id);
    expect(await list(a)).toContain(task.id);
    expect((await a.request('GET', `/v1/tasks/${task.id}/work`)).status).toBe(200);

    // removal is audited and takes the task away again
    const members = await t.admin.call<{ institutionId: string }[]>(
      'GET',
      `/v1/admin/tasks/${task.id}/members`,
    );
    expect(members.map((m) => m.institutionId).sort()).toEqual([a.id, b.id].sort());
    await t.admin.call('DELETE', `/v1/admin/tasks/${task.id}/members/${b.id}`);
    expect((await b.request('GET', `/v1/tasks/${task.id}/work`)).status).toBe(404);
    const audit = await t.admin.call<{ type: string; data: { taskId?: string } }[]>(
      'GET',
      '/v1/admin/audit?limit=1000',
    );
    expect(audit.filter((e) => e.data.taskId === task.id).map((e) => e.type)).toEqual(
      expect.arrayContaining(['task.member.added', 'task.member.removed']),
    );
  });

  it('a single hospital cannot make a public adapter: k ≥ 2, public needs k ≥ 5 and DP, typed refusals', async () => {
    const create = (spec: Parameters<typeof tinyTask>[0]) =>
      t.admin.raw('POST', '/v1/admin/tasks', tinyTask(spec));
    expect(errorOf(await create({ minParticipants: 1, publicAdapters: true })).status).toBe(400);
    expect(errorOf(await create({ minParticipants: 1 })).status).toBe(400);
    expect(errorOf(await create({ minParticipants: 3, publicAdapters: true }))).toEqual({
      status: 400,
      code: 'COHORT_TOO_SMALL',
    });
    expect(errorOf(await create({ minParticipants: 5, publicAdapters: true }))).toEqual({
      status: 400,
      code: 'PUBLIC_NEEDS_PRIVACY',
    });
    const refused = await create({
      strategy: { name: 'median' },
      privacy: { secureAggregation: true, dp: null },
    });
    expect(errorOf(refused)).toEqual({ status: 400, code: 'STRATEGY_NEEDS_PLAINTEXT' });
    expect(refused.json<{ error: { message: string } }>().error.message).toMatch(
      /보안 집계.*secure aggregation/,
    );
    const ok = await create({
      minParticipants: 5,
      publicAdapters: true,
      privacy: { secureAggregation: true, dp: { epsilon: 8, delta: 1e-5 } },
    });
    expect(ok.status).toBe(200);
    const { minParticipants: _, ...noK } = tinyTask();
    const dflt = await t.admin.call<Task>('POST', '/v1/admin/tasks', noK);
    expect(dflt.minParticipants).toBe(3);

    // a round never aggregates fewer than k updates, even when every member is in
    const [a, b] = insts as [InstitutionClient, InstitutionClient];
    await t.addMembers(dflt.id, [a, b]);
    await t.admin.call('POST', `/v1/admin/tasks/${dflt.id}/start`);
    for (const c of [a, b])
      expect((await c.uploadUpdate(dflt.id, 1, await update(t, dflt, () => 0.1), 5)).status).toBe(200);
    await t.server.coordinator.tick();
    expect((await t.server.coordinator.versions(dflt.id)).length).toBe(1);
  });

  it('one institution claiming 1e9 examples no longer takes over the global model', async () => {
    const three = insts.slice(0, 3);
    const deltas = [0.5, -0.2, 0.1];
    const run = async (cap?: number) => {
      const task = await started({ minParticipants: 3, rounds: 1 }, three, cap);
      const ups = await Promise.all(deltas.map((d) => update(t, task, (i) => d * (1 + (i % 3)))));
      const claimed = [1e9, 5, 5];
      for (const [k, c] of three.entries())
        expect((await c.uploadUpdate(task.id, 1, ups[k]!, claimed[k]!)).status).toBe(200);
      await t.server.coordinator.tick();
      const g = await latest(t, task);
      const w = claimed.map((n) => (cap === undefined ? 1 : Math.min(n, cap)));
      const W = w.reduce((x, y) => x + y, 0);
      const honest = ups[0]!.map((u, j) => ({
        ...u,
        data: u.data.map((_, i) => ups.reduce((acc, up, k) => acc + (w[k]! / W) * up[j]!.data[i]!, 0)),
      }));
      return { toMean: maxDiff(g, honest), toAttacker: maxDiff(g, ups[0]!) };
    };
    const equal = await run();
    expect(equal.toMean).toBeLessThan(1e-6);
    expect(equal.toAttacker).toBeGreaterThan(0.1);
    const capped = await run(10); // weights min(1e9, 10) = 10, 5, 5
    expect(capped.toMean).toBeLessThan(1e-6);
    expect(capped.toAttacker).toBeGreaterThan(0.1);
  });

  it('peers cannot difference each other: institutions read aggregate facts only', async () => {
    const [a, b] = insts as [InstitutionClient, InstitutionClient];
    const task = await started({ minParticipants: 2, rounds: 2 }, [a, b]);
    const SECRET_SIZE = 7777;
    expect((await a.uploadUpdate(task.id, 1, await update(t, task, () => 0.1), 3)).status).toBe(200);
    expect((await b.uploadUpdate(task.id, 1, await update(t, task, () => 0.3), SECRET_SIZE)).status).toBe(
      200,
    );
    await t.server.coordinator.tick();
    const seen = [
      await a.request('GET', `/v1/tasks/${task.id}/adapters`),
      await a.request('GET', `/v1/tasks/${task.id}/work`),
      await a.request('GET', '/v1/tasks'),
    ];
    const text = seen.map((r) => new TextDecoder().decode(r.body)).join('\n');
    expect(seen.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(text).not.toContain(b.id);
    // As a number of its own: the digits may occur by chance inside a hash, an id or a timestamp.
    const asNumber = (n: number) => new RegExp(`(?<![\\w.])${n}(?![\\w.])`);
    expect(text).not.toMatch(asNumber(SECRET_SIZE));
    expect(text).not.toMatch(asNumber(SECRET_SIZE + 3)); // the old total
    expect(text).not.toMatch(/participants|numExamples|meanUpdateNorm|trainLoss|evalLoss/);
    const reg = seen[0]!.json<{ version: number; cohortAtLeast: number | null }[]>();
    expect(reg.map((v) => [v.version, v.cohortAtLeast])).toEqual([
      [0, null],
      [1, 2],
    ]);
    // the operator still sees who took part
    const detail = await t.admin.call<{ versions: { participants: string[] }[] }>(
      'GET',
      `/v1/admin/tasks/${task.id}`,
    );
    expect(detail.versions[1]!.participants.sort()).toEqual([a.id, b.id].sort());
  });

  it('uploads are deleted once their round is over, and blobs are sealed, 0600/0700, tamper-evident', async () => {
    const blobsDir = join(t.dataDir, 'blobs');
    const [a, b] = insts as [InstitutionClient, InstitutionClient];
    const task = await started({ minParticipants: 2, rounds: 1 }, [a, b]);
    expect((await a.uploadUpdate(task.id, 1, await update(t, task, () => 0.1), 3)).status).toBe(200);
    const mine = async () =>
      (
        await t.server.db.query<{ blob: string | null }>(
          'SELECT u.blob FROM updates u JOIN rounds r ON r.id = u.round_id WHERE r.task_id = $1',
          [task.id],
        )
      ).map((u) => `${u.blob}.sealed`);
    const before = await mine();
    expect(readdirSync(join(blobsDir, 'updates'))).toEqual(expect.arrayContaining(before));
    expect((await b.uploadUpdate(task.id, 1, await update(t, task, () => 0.2), 3)).status).toBe(200);
    await t.server.coordinator.tick();
    expect((await t.server.coordinator.getTask(task.id)).state).toBe('completed');
    const after = readdirSync(join(blobsDir, 'updates'));
    expect(before).toHaveLength(1);
    for (const f of before) expect(after).not.toContain(f);
    const rows = await t.server.db.query<{ sha256: string | null; blob: string | null }>(
      'SELECT u.sha256, u.blob FROM updates u JOIN rounds r ON r.id = u.round_id WHERE r.task_id = $1',
      [task.id],
    );
    expect(rows).toEqual([
      { sha256: null, blob: null },
      { sha256: null, blob: null },
    ]);

    // modes, with umask 0 in this process
    const walk = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? [join(d, e.name), ...walk(join(d, e.name))] : [join(d, e.name)],
      );
    const entries = [blobsDir, ...walk(blobsDir)];
    for (const p of entries) {
      const st = statSync(p);
      expect([p, st.mode & 0o777]).toEqual([p, st.isDirectory() ? 0o700 : 0o600]);
    }
    expect(statSync(join(t.dataDir, 'blob-key')).mode & 0o777).toBe(0o600);

    // ciphertext on disk is not the adapter, and a download decrypts it (whole and by range)
    const plain = (await t.admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/1`)).body;
    const sha = (await t.server.coordinator.versions(task.id))[1]!.sha256;
    const file = join(blobsDir, sha.slice(0, 2), `${sha}.sealed`);
    const sealed = readFileSync(file);
    expect(Buffer.from(plain).equals(sealed)).toBe(false);
    expect(sealed.includes(Buffer.from('__metadata__'))).toBe(false);
    expect(Buffer.from(plain).includes(Buffer.from('__metadata__'))).toBe(true);
    const part = await t.admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/1`);
    expect(part.body.byteLength).toBe(plain.byteLength);
    const ranged = await t.send('GET', `/v1/admin/tasks/${task.id}/adapters/1`, {
      authorization: `Bearer ${'test-admin-token-0123456789abcdef'}`,
      range: 'bytes=8-15',
    });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(ranged.body).equals(Buffer.from(plain.subarray(8, 16)))).toBe(true);
    // each admin download is audited, with who, which version and the range asked for
    const downloads = (
      await t.admin.call<{ type: string; actor: string; data: Record<string, unknown> }[]>(
        'GET',
        '/v1/admin/audit?limit=1000',
      )
    ).filter((e) => e.type === 'adapter.downloaded' && e.data['taskId'] === task.id);
    // (the three just made; earlier steps of this test downloaded too)
    expect(
      downloads.slice(-3).map((e) => [e.actor, e.data['version'], e.data['sha256'], e.data['range']]),
    ).toEqual([
      ['admin:bootstrap', 1, sha, undefined],
      ['admin:bootstrap', 1, sha, undefined],
      ['admin:bootstrap', 1, sha, 'bytes=8-15'],
    ]);

    // one flipped bit: a typed refusal, not altered bytes
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 40]! ^= 1;
    writeFileSync(file, tampered);
    const store = await BlobStore.open(blobsDir, readKey(t.dataDir));
    await expect(store.read(sha)).rejects.toBeInstanceOf(BlobIntegrityError);
    await expect(store.read(sha)).rejects.toMatchObject({ code: 'BLOB_TAMPERED' });
    writeFileSync(file, sealed);
    expect(Buffer.from(await store.read(sha)).equals(Buffer.from(plain))).toBe(true);
  });

  it('a blob sealed under one key does not open under another, and empty/large blobs round-trip', async () => {
    const dir = tempDir('dure-blobs-');
    const k1 = new Uint8Array(32).fill(1);
    const s1 = await BlobStore.open(dir, k1);
    const big = new Uint8Array(200_000).map((_, i) => (i * 7) & 255);
    const shaBig = await s1.put(big);
    const shaEmpty = await s1.put(new Uint8Array(0));
    expect(Buffer.from(await s1.read(shaBig)).equals(Buffer.from(big))).toBe(true);
    expect((await s1.read(shaEmpty)).byteLength).toBe(0);
    const s2 = await BlobStore.open(dir, new Uint8Array(32).fill(2));
    await expect(s2.read(shaBig)).rejects.toMatchObject({ code: 'BLOB_TAMPERED' });
    const f = await s1.openBlob(shaBig);
    const slice = new Uint8Array(10);
    await f.read(slice, 0, 10, 65_530); // across a segment boundary
    await f.close();
    expect([...slice]).toEqual([...big.subarray(65_530, 65_540)]);
  });
});

function readKey(dataDir: string): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(join(dataDir, 'blob-key'), 'utf8').trim(), 'base64url'));
}
