/**
 * Governed releases and named admins, end to end through the HTTP API: a closed round makes a
 * candidate that members train from while citizens' widgets stay on the stable version; only an
 * approval whose gate passed moves `latest`; a rollback moves it back; unapproved numbered versions
 * are 404 publicly; every step is audited with the acting admin's own name; a disabled admin is
 * refused. The gate itself is checked as a pure function. The task is public, so DP under secure
 * aggregation: no institution reports an eval loss the server could read, so over HTTP the gate
 * is decided by an attached operator evaluation (the cohort-loss gate is covered by the pure tests).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../src/protocol/schemas.ts';
import type { Admin } from './admins.ts';
import type { AuditEntry } from './audit.ts';
import { releaseGate, type OperatorEvaluation, type Release } from './releases.ts';
import { AdminClient, type InstitutionClient } from './testing/client.ts';
import { publicTinyTask, startTestServer, type TestServer } from './testing/harness.ts';
import { runSecureRound, shiftGlobal } from './testing/secure-round.ts';

describe('releaseGate (pure)', () => {
  const evaluation = (passed: boolean): OperatorEvaluation => ({
    passed,
    summary: 'held-out 120 questions',
    metrics: {},
    tool: 'dure eval',
    attachedBy: 'admin:kim',
    attachedAt: 0,
  });
  it('passes within the tolerance of the baseline and fails beyond it', () => {
    const base = { version: 1, evalLoss: 2 };
    expect(releaseGate({ evalLoss: 2.039, evaluation: null }, base, 0.02).passed).toBe(true);
    expect(releaseGate({ evalLoss: 2.041, evaluation: null }, base, 0.02).passed).toBe(false);
    expect(releaseGate({ evalLoss: 1.5, evaluation: null }, base, 0).passed).toBe(true);
    expect(releaseGate({ evalLoss: 2.0001, evaluation: null }, base, 0).passed).toBe(false);
  });
  it('does not pass without a loss or a baseline, and an attached evaluation decides either way', () => {
    const none = releaseGate({ evalLoss: null, evaluation: null }, { version: 1, evalLoss: 2 }, 0.02);
    expect([none.passed, none.basis]).toEqual([false, 'cohort_eval_loss']);
    expect(releaseGate({ evalLoss: 1, evaluation: null }, { version: 0, evalLoss: null }, 0.02).passed).toBe(
      false,
    );
    expect(releaseGate({ evalLoss: 1, evaluation: null }, null, 0.02).passed).toBe(false);
    const ok = releaseGate({ evalLoss: 9, evaluation: evaluation(true) }, { version: 1, evalLoss: 1 }, 0);
    expect([ok.passed, ok.basis]).toEqual([true, 'operator_evaluation']);
    // a failed evaluation blocks even a loss that would pass
    expect(
      releaseGate({ evalLoss: 1, evaluation: evaluation(false) }, { version: 1, evalLoss: 2 }, 0).passed,
    ).toBe(false);
  });
});

describe('governed releases and named admins over HTTP', () => {
  let t: TestServer;
  let task: Task;
  let insts: InstitutionClient[];
  let alice: AdminClient;
  let aliceId: string;
  const pub = (v: string | number, headers: Record<string, string> = {}) =>
    t.send('GET', `/v1/public/tasks/${task.id}/adapters/${v}`, headers);
  const publicLatest = async () => {
    const r = await pub('latest');
    expect(r.status).toBe(200);
    return Number(r.headers['x-dure-adapter-version']);
  };
  const releases = () => t.admin.call<Release[]>('GET', `/v1/admin/tasks/${task.id}/releases`);
  const audit = async (type: string) =>
    (await t.admin.call<AuditEntry[]>('GET', '/v1/admin/audit?limit=1000')).filter((e) => e.type === type);
  /** Every member returns the round's global shifted by `shift` through secure aggregation. */
  const runRound = async (round: number, shift: number) => {
    const r = await runSecureRound({
      institutions: insts,
      taskId: task.id,
      updates: shiftGlobal(shift),
      tick: () => t.server.coordinator.tick(),
    });
    expect(r.round).toBe(round);
    expect(r.outcomes.every((o) => o !== 'dropped' && o.kind === 'contributed')).toBe(true);
  };
  /** Attaches an operator evaluation to version `v`. */
  const evaluate = (by: AdminClient, v: number, passed: boolean, summary: string) =>
    by.call('POST', `/v1/admin/tasks/${task.id}/releases/${v}/evaluation`, {
      passed,
      summary,
      metrics: { accuracy: passed ? 0.82 : 0.41 },
      tool: 'dure eval',
    });

  beforeAll(async () => {
    t = await startTestServer();
    task = await t.admin.call<Task>('POST', '/v1/admin/tasks', publicTinyTask({ rounds: 3 }));
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    insts = [];
    for (let i = 0; i < 5; i++) insts.push(await t.enroll(`행복구청 ${i}`));
    await t.addMembers(task.id, insts);
    const created = await t.admin.call<{ admin: Admin; token: string }>('POST', '/v1/admin/admins', {
      name: 'alice',
    });
    aliceId = created.admin.id;
    alice = new AdminClient(t.send, created.token);
  });
  afterAll(() => t.cleanup());

  it('creates a named admin whose token is shown once and stored only as a hash', async () => {
    const me = await alice.call<Admin>('GET', '/v1/admin/me');
    expect([me.name, me.status, me.createdBy]).toEqual(['alice', 'active', 'admin:bootstrap']);
    const rows = await t.server.db.query<{ name: string; token_sha256: string }>(
      'SELECT name, token_sha256 FROM admins ORDER BY name',
    );
    expect(rows.map((r) => r.name)).toEqual(['alice', 'bootstrap']);
    const listed = JSON.stringify(await t.admin.call('GET', '/v1/admin/admins'));
    expect(listed).not.toMatch(/token/i);
    expect((await t.admin.raw('POST', '/v1/admin/admins', { name: 'alice' })).status).toBe(409);
    expect((await t.admin.raw('POST', '/v1/admin/admins', { name: 'has space' })).status).toBe(400);
    const [created] = await audit('admin.created');
    expect([created!.actor, (created!.data as { name: string }).name]).toEqual(['admin:bootstrap', 'alice']);
    const [taskCreated] = await audit('task.created');
    expect(taskCreated!.actor).toBe('admin:bootstrap');
  });

  it('keeps widgets on the published version when a round closes; members train from the candidate', async () => {
    await runRound(1, 0.1);
    expect(await publicLatest()).toBe(0); // the regression: no approval, no new public adapter
    expect((await pub(1)).status).toBe(404);
    const member = await insts[0]!.request('GET', `/v1/tasks/${task.id}/adapters/latest`);
    expect(member.headers['x-dure-adapter-version']).toBe('1');
    const v1 = (await releases()).find((r) => r.version === 1)!;
    expect([v1.state, v1.stable]).toEqual(['candidate', false]);
    expect(v1.gate?.passed).toBe(false); // no cohort eval loss under secure aggregation, no evaluation yet
    expect((await audit('adapter.candidate')).map((e) => e.data)).toEqual([
      expect.objectContaining({ taskId: task.id, version: 1 }),
    ]);
    expect(await audit('adapter.published')).toEqual([]);
  });

  it('refuses approval until the gate passes; an attached evaluation passes it; approval moves latest', async () => {
    const refused = await alice.raw('POST', `/v1/admin/tasks/${task.id}/releases/1/approve`, {});
    expect([refused.status, refused.json<{ error: { code: string } }>().error.code]).toEqual([
      409,
      'RELEASE_GATE_FAILED',
    ]);
    expect(await publicLatest()).toBe(0);
    await evaluate(alice, 1, true, '민원 질문 120개 정답률 0.82');
    const approved = await alice.call<Release>('POST', `/v1/admin/tasks/${task.id}/releases/1/approve`, {
      note: 'first release',
    });
    expect([approved.state, approved.stable, approved.decision?.by]).toEqual([
      'published',
      true,
      'admin:alice',
    ]);
    expect(await publicLatest()).toBe(1);
    expect((await pub(1)).status).toBe(200);
    const [entry] = await audit('adapter.approved');
    expect(entry!.actor).toBe('admin:alice');
    expect(entry!.data).toMatchObject({ version: 1, previousStable: 0, channel: 'stable' });
    expect((await audit('adapter.evaluated'))[0]!.actor).toBe('admin:alice');
    // decided once: no second approval, no rejection after the fact
    expect((await alice.raw('POST', `/v1/admin/tasks/${task.id}/releases/1/reject`, {})).status).toBe(409);
  });

  it('fails the gate on a failed evaluation; a rejected candidate is never public', async () => {
    await runRound(2, -0.1);
    await evaluate(t.admin, 2, false, '정답률 0.41');
    const v2 = (await releases()).find((r) => r.version === 2)!;
    expect([v2.gate?.basis, v2.gate?.passed]).toEqual(['operator_evaluation', false]);
    expect((await t.admin.raw('POST', `/v1/admin/tasks/${task.id}/releases/2/approve`, {})).status).toBe(409);
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/releases/2/reject`, { note: 'worse' });
    expect((await pub(2)).status).toBe(404);
    expect(await publicLatest()).toBe(1);
    const [rejected] = await audit('adapter.rejected');
    expect([rejected!.actor, (rejected!.data as { version: number }).version]).toEqual([
      'admin:bootstrap',
      2,
    ]);
  });

  it('passes the gate on a passed evaluation, then rolls stable back', async () => {
    await runRound(3, 0.1);
    expect(await publicLatest()).toBe(1);
    await evaluate(t.admin, 3, true, '정답률 0.85');
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/releases/3/approve`, {});
    expect(await publicLatest()).toBe(3);
    const etag3 = (await pub('latest')).headers['etag']!;

    // only to an earlier published version
    for (const [version, status] of [
      [2, 409], // rejected, never published
      [3, 409], // already stable
      [4, 404], // no such version
    ]) {
      const r = await alice.raw('POST', `/v1/admin/tasks/${task.id}/channels/stable/rollback`, { version });
      expect([version, r.status]).toEqual([version, status]);
    }
    await alice.call('POST', `/v1/admin/tasks/${task.id}/channels/stable/rollback`, {
      version: 1,
      note: 'complaints',
    });
    expect(await publicLatest()).toBe(1);
    // a widget holding v3 gets v1's file, not a 304
    expect((await pub('latest', { 'if-none-match': etag3 })).status).toBe(200);
    expect((await pub(3)).status).toBe(200); // still published: a widget pinned to it keeps it
    const [rolled] = await audit('adapter.rolled_back');
    expect(rolled!.actor).toBe('admin:alice');
    expect(rolled!.data).toMatchObject({ from: 3, to: 1, channel: 'stable' });
    const listed = await releases();
    expect(listed.map((r) => [r.version, r.state, r.stable])).toEqual([
      [0, 'published', false],
      [1, 'published', true],
      [2, 'rejected', false],
      [3, 'published', false],
    ]);
  });

  it('refuses a disabled admin, and never disables the last one', async () => {
    await t.admin.call('POST', `/v1/admin/admins/${aliceId}/disable`);
    const r = await alice.raw('GET', '/v1/admin/tasks');
    expect([r.status, r.json<{ error: { code: string } }>().error.code]).toEqual([401, 'ADMIN_DISABLED']);
    const me = await t.admin.call<Admin>('GET', '/v1/admin/me');
    const last = await t.admin.raw('POST', `/v1/admin/admins/${me.id}/disable`);
    expect([last.status, last.json<{ error: { code: string } }>().error.code]).toEqual([409, 'LAST_ADMIN']);
    expect((await audit('admin.disabled'))[0]!.actor).toBe('admin:bootstrap');
    const chain = await t.admin.call<{ ok: boolean }>('GET', '/v1/admin/audit/verify');
    expect(chain.ok).toBe(true);
  });
});
