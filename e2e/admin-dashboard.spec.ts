/**
 * The admin dashboard served by the real federated server (a child process on a loopback port,
 * fresh data directory) in Debian's Chromium, in Korean (issue #20): sign in, add an institution
 * (Hangul and markup rendered as text), copy and re-issue its one-time code (the old one then
 * refused), read the audit log's entries, sign out; create a task with the wizard (secure
 * aggregation + ε, an unsafe combination refused before submit) and see every setting on the task
 * page; governed releases approved by a named admin. Every screen: axe 0 violations, no horizontal
 * overflow at 390 px, a screenshot in test-results.
 */
import { readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { AdminClient, httpTransport, InstitutionClient } from '../federated-server/src/testing/client.ts';
import { PUBLIC_PRIVACY, publicTinyTask } from '../federated-server/src/testing/harness.ts';
import { runSecureRound, shiftGlobal } from '../federated-server/src/testing/secure-round.ts';
import type { Task } from '../src/protocol/schemas.ts';
import { E2E_ADMIN_TOKEN, startE2eServer, type E2eServer } from './console-server.ts';

const TOKEN = E2E_ADMIN_TOKEN;
let fl: E2eServer | undefined;
let base = '';

test.beforeAll(async () => {
  test.setTimeout(120_000);
  fl = await startE2eServer(
    {
      DURE_CONSOLE_URL: 'http://localhost:5173/console.html',
      // the dashboard this run built (playwright.config.ts builds into DURE_E2E_OUTDIR)
      DURE_DASHBOARD_DIR: process.env['DURE_E2E_OUTDIR'] ?? 'dist',
    },
    'dure-e2e-admin-',
  );
  base = fl.url;
});

test.afterAll(() => fl?.stop());

const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** axe 0 violations, no horizontal overflow at 390 px, and a full-page screenshot of this screen. */
async function checkScreen(page: Page, info: TestInfo, name: string) {
  const axe = await new AxeBuilder({ page }).withTags(WCAG_21_AA).analyze();
  expect(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual(
    [],
  );
  const size = page.viewportSize()!;
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.screenshot({ path: info.outputPath(`admin-${name}-390.png`), fullPage: true });
  await page.setViewportSize(size);
  await page.screenshot({ path: info.outputPath(`admin-${name}.png`), fullPage: true });
}

async function signIn(page: Page, token = TOKEN) {
  await page.goto(`${base}/admin`);
  await page.getByLabel('관리자 토큰').fill(token);
  await page.getByRole('button', { name: '로그인' }).click();
}

test('institutions: code copied with instructions, re-issued (old one refused); audit entries; sign out', async ({
  page,
  context,
}, info) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto(`${base}/admin`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('두레 연합학습 관리');
  await checkScreen(page, info, 'sign-in');
  await signIn(page);
  await expect(page.getByTestId('signed-in')).toContainText('bootstrap');

  await page.getByRole('button', { name: '기관', exact: true }).click();
  const name = '<b>서울특별시 보건소</b>';
  await page.getByLabel('기관 이름').fill(name);
  await page.getByRole('button', { name: '기관 추가' }).click();
  const card = page.getByTestId('enrollment-code');
  await expect(card).toContainText('이 코드를 기관 담당자에게');
  await expect(card.getByRole('link')).toHaveAttribute('href', 'http://localhost:5173/console.html');
  const first = (await card.getByTestId('code-value').textContent())!;
  await card.getByRole('button', { name: '코드 복사' }).click();
  await expect(card).toContainText('복사했습니다');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(first);
  const row = page.getByRole('row').filter({ hasText: '서울특별시 보건소' });
  await expect(row).toContainText(name); // literal text, not markup
  await expect(row).toContainText('등록 대기');
  await expect(page.locator('b', { hasText: '서울특별시 보건소' })).toHaveCount(0);
  await checkScreen(page, info, 'institutions');

  await row.getByRole('button', { name: '새 등록 코드' }).click();
  await expect(card.getByTestId('code-value')).not.toHaveText(first);
  const enrol = (code: string) =>
    fetch(`${base}/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code, publicKey: 'x' }),
    });
  expect((await enrol(first)).status).toBeGreaterThanOrEqual(400);

  await page.getByRole('button', { name: '감사 로그' }).click();
  await expect(page.getByTestId('audit-status')).toContainText('해시 사슬 검증됨');
  await expect(page.getByTestId('audit-entries')).toContainText('institution.enrollment_code_reissued');
  await checkScreen(page, info, 'audit');
  await page.getByRole('button', { name: '관리자', exact: true }).click();
  await expect(page.getByRole('row').filter({ hasText: 'bootstrap' })).toContainText('활성');
  await checkScreen(page, info, 'admins');

  await page.getByRole('button', { name: '로그아웃' }).click();
  await expect(page.getByLabel('관리자 토큰')).toBeVisible();
  await expect(page.getByTestId('signed-in')).toHaveCount(0);
  // a wrong token: the plain explanation, the reset instructions, the code only under 자세히
  await page.getByLabel('관리자 토큰').fill('wrong-token-0123456789abcdef');
  await page.getByRole('button', { name: '로그인' }).click();
  const error = page.getByTestId('error');
  await expect(error).toContainText('인증에 실패했습니다');
  await expect(error.locator('details')).toContainText('UNAUTHORIZED');
  await expect(page.getByTestId('token-help')).toContainText('DURE_ADMIN_TOKEN');
  // English when chosen
  await page.getByLabel('언어').selectOption('en');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Dure federated admin');
  await expect(error).toContainText('Authentication failed');
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
});

test('task wizard: secure aggregation + ε, unsafe combination refused first; the task page shows every setting', async ({
  page,
}, info) => {
  const bootstrap = new AdminClient(httpTransport(base), TOKEN);
  for (const n of ['가람 병원', '나래 구청', '다솜 보건소'])
    await InstitutionClient.enroll(httpTransport(base), bootstrap, n);
  const demo = JSON.parse(readFileSync('public/models/demo.json', 'utf8')) as { sha256: string };
  await signIn(page);
  await page.getByRole('button', { name: '새 과제 만들기' }).click();
  const wizard = page.getByTestId('wizard');
  await expect(wizard.getByTestId('model-facts')).toContainText(demo.sha256);
  await wizard.getByLabel('과제 이름').fill('민원 상담 개선');
  await wizard.getByLabel('차등 프라이버시 켜기').check();
  await wizard.getByLabel('ε (프라이버시 예산)').fill('4');
  // median cannot run under secure aggregation: refused before submit
  await wizard.getByLabel('집계 방식').selectOption('median');
  await expect(wizard.getByTestId('problem-strategy')).toContainText('보안 집계와 함께 쓸 수 없습니다');
  await expect(wizard.getByRole('button', { name: '과제 만들기' })).toBeDisabled();
  await wizard.getByLabel('집계 방식').selectOption('ffa-lora');
  for (const n of ['가람 병원', '나래 구청', '다솜 보건소']) await wizard.getByLabel(n).check();
  await expect(wizard.getByTestId('wizard-status')).toContainText('만들 수 있습니다');
  await checkScreen(page, info, 'wizard');
  await wizard.getByRole('button', { name: '과제 만들기' }).click();

  const taskPage = page.getByTestId('task-page');
  await expect(taskPage.getByRole('heading', { level: 2 })).toHaveText('민원 상담 개선');
  await expect(taskPage.getByTestId('setting-sha256')).toHaveText(demo.sha256);
  await expect(taskPage.getByTestId('setting-secagg')).toHaveText('예');
  await expect(taskPage.getByTestId('setting-dp')).toContainText('ε 4, δ 0.00001');
  await expect(taskPage.getByTestId('setting-k')).toHaveText('3');
  await expect(taskPage.getByTestId('setting-public')).toHaveText('아니오');
  await expect(taskPage.getByTestId('setting-norm')).toHaveText('1');
  await expect(taskPage.getByTestId('privacy-budget')).toContainText('0.000 / 4.000');
  await expect(taskPage.getByTestId('members').getByRole('row')).toHaveCount(4);
  await page.getByRole('button', { name: '시작' }).click();
  await expect(taskPage.getByTestId('countdown')).toContainText('분');
  await expect(taskPage.getByTestId('task-settings')).toContainText('키 공개 단계');
  await checkScreen(page, info, 'task-page');
});

test('releases: a named admin approves a candidate, public latest moves; rollback moves it back', async ({
  page,
}, info) => {
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
    // phases long enough that a loaded machine does not drop a client mid-round (they end early once all answered)
    publicTinyTask({ name: '민원 안내 배포 시험', privacy: { ...PUBLIC_PRIVACY, phaseSeconds: 15 } }),
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

  await signIn(page, kimToken);
  await expect(page.getByTestId('signed-in')).toContainText('kim');
  await page.getByRole('button', { name: task.name }).click();
  const v1 = page.getByTestId('release-v1');
  await expect(v1).toContainText('승인 대기');
  await expect(v1).toContainText('미통과'); // no cohort eval loss under secure aggregation
  await expect(v1.getByRole('button', { name: '승인' })).toBeDisabled();
  await expect(page.getByTestId('chart-participants')).toHaveAttribute('data-points', '1');
  await expect(page.getByTestId('task-page')).toContainText('라운드 1: 5');

  await v1.getByRole('button', { name: '평가 첨부' }).click();
  await v1.getByLabel('평가 요약').fill('민원 질문 50개 중 44개 정답');
  await v1.getByRole('button', { name: '평가 저장' }).click();
  await expect(v1).toContainText('운영자 평가');
  await v1.getByRole('button', { name: '승인' }).click();
  await expect(v1).toContainText('배포됨');
  await expect(v1).toContainText('admin:kim');
  await expect(v1).toContainText('stable');
  await expect.poll(publicLatest).toBe('1');
  await checkScreen(page, info, 'task-page-released');

  page.once('dialog', (d) => void d.accept());
  await page.getByTestId('release-v0').getByRole('button', { name: '되돌리기' }).click();
  await expect(page.getByTestId('release-v0')).toContainText('stable');
  await expect.poll(publicLatest).toBe('0');

  const audit = await bootstrap.call<{ type: string; actor: string }[]>('GET', '/v1/admin/audit?limit=1000');
  expect(
    audit.filter(
      (e) => e.type.startsWith('adapter.') && e.type !== 'adapter.downloaded' && e.actor !== 'server',
    ),
  ).toEqual([
    expect.objectContaining({ type: 'adapter.evaluated', actor: 'admin:kim' }),
    expect.objectContaining({ type: 'adapter.approved', actor: 'admin:kim' }),
    expect.objectContaining({ type: 'adapter.rolled_back', actor: 'admin:kim' }),
  ]);
});
