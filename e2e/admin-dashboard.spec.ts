/**
 * The admin dashboard served by the real federated server (a child process on a loopback port,
 * fresh data directory) in Debian's Chromium: sign in with the admin token, see the audit chain
 * verified, add an institution and get its one-time enrollment code, with Hangul names rendered
 * as text (never HTML); admit institutions to a task (with and without a weight cap) and remove
 * one, the server's member list following each step. Then governed releases: a named admin signs
 * in with its own token, a closed round's candidate stays off the public `latest` until that admin
 * attaches an evaluation and approves it, a rollback moves `latest` back, and the audit log names
 * the admin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { AdminClient, httpTransport, InstitutionClient } from '../federated-server/src/testing/client.ts';
import { publicTinyTask } from '../federated-server/src/testing/harness.ts';
import { runSecureRound, shiftGlobal } from '../federated-server/src/testing/secure-round.ts';
import type { Task, TaskMember } from '../src/protocol/schemas.ts';
import { testModelTask } from './console-server.ts';

const TOKEN = 'e2e-admin-token-0123456789abcdef';
let child: ChildProcess | undefined;
let dataDir = '';
let base = '';

test.beforeAll(async () => {
  test.setTimeout(120_000);
  dataDir = mkdtempSync(join(tmpdir(), 'dure-e2e-admin-'));
  child = spawn(process.execPath, ['--import', 'tsx', 'federated-server/src/main.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      DURE_DATA_DIR: dataDir,
      DURE_ADMIN_TOKEN: TOKEN,
      DURE_LOG: 'off',
      // the dashboard this run built (playwright.config.ts builds into DURE_E2E_OUTDIR)
      DURE_DASHBOARD_DIR: process.env['DURE_E2E_OUTDIR'] ?? 'dist',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  base = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Dure federated server: (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child!.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child!.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
});

test.afterAll(() => {
  child?.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

test('admin dashboard: sign in, audit verified, add an institution', async ({ page }) => {
  await page.goto(`${base}/admin`);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('두레 연합학습 관리');
  await page.getByLabel(/Admin token/).fill(TOKEN);
  await page.getByRole('button', { name: /Sign in/ }).click();
  await expect(page.getByTestId('audit-status')).toContainText('verified');

  const name = '<b>서울특별시 보건소</b>';
  await page.getByPlaceholder(/name/).fill(name);
  await page.getByRole('button', { name: /Add/ }).click();
  await expect(page.getByText(/enrollment code \(shown once\)/)).toBeVisible();
  const row = page.getByRole('row').filter({ hasText: '서울특별시 보건소' });
  await expect(row).toContainText(name); // literal text, not markup
  await expect(row).toContainText('pending');
  await expect(page.locator('b', { hasText: '서울특별시 보건소' })).toHaveCount(0);
  // the audit chain now has the admin-created institution and still verifies
  await expect(page.getByTestId('audit-status')).toContainText(/verified — [1-9]\d* entries/);
});

test('admin dashboard: admit institutions to a task, with and without a weight cap, and remove one', async ({
  page,
}) => {
  const admin = new AdminClient(httpTransport(base), TOKEN);
  const task = await admin.call<Task>(
    'POST',
    '/v1/admin/tasks',
    testModelTask({
      name: '회원 관리 과제',
      baseModel: { id: 'widget-test', sha256: 'a'.repeat(64) },
      seed: 1,
      localSteps: 1,
      maxUpdateNorm: 10,
      publicAdapters: false,
      minParticipants: 3,
    }),
  );
  const created = async (name: string) =>
    (await admin.call<{ institution: { id: string } }>('POST', '/v1/admin/institutions', { name }))
      .institution.id;
  const [garam, narae] = [await created('가람 병원'), await created('나래 구청')];
  const members = () => admin.call<TaskMember[]>('GET', `/v1/admin/tasks/${task.id}/members`);

  await page.goto(`${base}/admin`);
  await page.getByLabel(/Admin token/).fill(TOKEN);
  await page.getByRole('button', { name: /Sign in/ }).click();
  await page.getByRole('button', { name: '회원 관리 과제' }).click();
  const section = page.getByTestId('members');
  await expect(section.getByRole('heading')).toContainText('참여 기관 · Members — 회원 관리 과제');
  await expect(page.getByTestId('task-policy')).toContainText('minimum cohort k: 3');
  await expect(section).toContainText('no members yet');

  // admit 가람 병원 with a weight cap of 50
  await section.getByLabel(/Institution/).selectOption({ label: `가람 병원 (${garam})` });
  await section.getByLabel(/Weight cap/).fill('50');
  await section.getByRole('button', { name: /Admit to task/ }).click();
  const row = (name: string) => section.getByRole('row').filter({ hasText: name });
  await expect(row('가람 병원').getByTestId('member-cap')).toHaveText('50');
  // admit 나래 구청 without a cap: equal weight
  await section.getByLabel(/Institution/).selectOption({ label: `나래 구청 (${narae})` });
  await section.getByRole('button', { name: /Admit to task/ }).click();
  await expect(row('나래 구청').getByTestId('member-cap')).toHaveText('동일 가중치 · equal (1)');
  // a member is no longer offered for admission
  await expect(section.getByLabel(/Institution/).locator('option', { hasText: '가람 병원' })).toHaveCount(0);
  expect((await members()).map((m) => [m.institutionId, m.maxWeight])).toEqual([
    [garam, 50],
    [narae, null],
  ]);

  // remove 가람 병원 (after a confirmation)
  page.once('dialog', (d) => void d.accept());
  await row('가람 병원')
    .getByRole('button', { name: /Remove/ })
    .click();
  await expect(row('가람 병원')).toHaveCount(0);
  await expect(row('나래 구청')).toHaveCount(1);
  expect((await members()).map((m) => m.institutionId)).toEqual([narae]);
  // the admissions and the removal are in the audit chain, which still verifies
  const audit = await admin.call<{ type: string }[]>('GET', '/v1/admin/audit?limit=1000');
  expect(audit.filter((e) => e.type.startsWith('task.member.')).map((e) => e.type)).toEqual([
    'task.member.added',
    'task.member.added',
    'task.member.removed',
  ]);
  await expect(page.getByTestId('audit-status')).toContainText('verified');
});

test('releases: a named admin approves a candidate, public latest moves; rollback moves it back', async ({
  page,
}) => {
  test.setTimeout(120_000);
  const send = httpTransport(base);
  const bootstrap = new AdminClient(send, TOKEN);
  const { token: kimToken } = await bootstrap.call<{ token: string }>('POST', '/v1/admin/admins', {
    name: 'kim',
  });
  // a public task (k = 5, DP under secure aggregation) whose first round five institutions complete
  const task = await bootstrap.call<Task>(
    'POST',
    '/v1/admin/tasks',
    publicTinyTask({ name: '민원 안내 배포 시험' }),
  );
  const insts: InstitutionClient[] = [];
  for (let i = 0; i < 5; i++) insts.push(await InstitutionClient.enroll(send, bootstrap, `행복구청 ${i}`));
  for (const inst of insts)
    await bootstrap.call('POST', `/v1/admin/tasks/${task.id}/members`, { institutionId: inst.id });
  await bootstrap.call('POST', `/v1/admin/tasks/${task.id}/start`);
  const publicLatest = async () =>
    (await fetch(`${base}/v1/public/tasks/${task.id}/adapters/latest`)).headers.get('x-dure-adapter-version');
  // the server ticks itself: the institutions only poll
  const { outcomes } = await runSecureRound({
    institutions: insts,
    taskId: task.id,
    updates: shiftGlobal(0.1),
    pollMs: 100,
  });
  expect(outcomes.every((o) => o !== 'dropped' && o.kind === 'contributed')).toBe(true);
  await expect
    .poll(
      async () =>
        (await bootstrap.call<{ task: Task }>('GET', `/v1/admin/tasks/${task.id}`)).task.latestVersion,
      {
        timeout: 20_000,
      },
    )
    .toBe(1);
  expect(await publicLatest()).toBe('0'); // a candidate is not released

  await page.goto(`${base}/admin`);
  await page.getByLabel(/Admin token/).fill(kimToken);
  await page.getByRole('button', { name: /Sign in/ }).click();
  await expect(page.getByTestId('signed-in')).toContainText('kim');
  await page.getByRole('button', { name: task.name }).click();
  const v1 = page.getByTestId('release-v1');
  await expect(v1).toContainText('candidate');
  await expect(v1).toContainText('not passed'); // no cohort eval loss under secure aggregation
  await expect(v1.getByRole('button', { name: /Approve/ })).toBeDisabled();

  await v1.getByRole('button', { name: /Attach evaluation/ }).click();
  await v1.getByLabel(/evaluation summary/).fill('민원 질문 50개 중 44개 정답');
  await v1.getByRole('button', { name: /Save evaluation/ }).click();
  await expect(v1).toContainText('operator evaluation');
  await v1.getByRole('button', { name: /Approve/ }).click();
  await expect(v1).toContainText('published');
  await expect(v1).toContainText('admin:kim');
  await expect(v1).toContainText('stable');
  await expect.poll(publicLatest).toBe('1');

  page.once('dialog', (d) => void d.accept());
  await page
    .getByTestId('release-v0')
    .getByRole('button', { name: /Roll back/ })
    .click();
  await expect(page.getByTestId('release-v0')).toContainText('stable');
  await expect.poll(publicLatest).toBe('0');

  const audit = await bootstrap.call<{ type: string; actor: string }[]>('GET', '/v1/admin/audit?limit=1000');
  expect(audit.filter((e) => e.type.startsWith('adapter.') && e.actor !== 'server')).toEqual([
    expect.objectContaining({ type: 'adapter.evaluated', actor: 'admin:kim' }),
    expect.objectContaining({ type: 'adapter.approved', actor: 'admin:kim' }),
    expect.objectContaining({ type: 'adapter.rolled_back', actor: 'admin:kim' }),
  ]);
});
