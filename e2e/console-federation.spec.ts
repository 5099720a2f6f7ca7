/**
 * A full federated round from the institution console in Chromium: the real
 * federated server, a task and a one-time code made through the admin API, enrollment in the
 * console, a local JSONL dataset with Korean identifiers and marker strings, training on WebGPU
 * (SwiftShader), the signed update accepted. The browser's institution is admitted to the task
 * with one peer institution (from Node), so the round meets its minimum cohort of two. Every
 * request of the browser context (pages and
 * workers) is captured: no dataset string, identifier or marker appears in any URL or body.
 * Then the same flow with the upload cut off: a reload re-sends the stored update without training.
 */
import { expect, test, type Page, type Request } from '@playwright/test';
import type { CreateTaskRequest, Task } from '../src/protocol/schemas.ts';
import {
  addMembers,
  institutionIdByName,
  peerContributes,
  securePeer,
  startFlServer,
  testModelTask,
  type E2eServer,
} from './console-server.ts';
import { publishWidgetModel, type WidgetModel } from './widget-model.ts';

test.use({ locale: 'ko-KR', screenshot: 'only-on-failure' });

let model: WidgetModel;
let server: E2eServer;

test.beforeAll(async ({ baseURL }) => {
  model = await publishWidgetModel();
  server = await startFlServer(new URL(baseURL ?? '').origin);
});
test.afterAll(() => server?.stop());

const LOCAL_STEPS = 3;

function taskSpec(name: string): CreateTaskRequest {
  return testModelTask({
    name,
    baseModel: { id: 'widget-test', sha256: model.sha256 },
    seed: 3,
    localSteps: LOCAL_STEPS,
    maxUpdateNorm: 100,
    publicAdapters: false,
  });
}

// Dataset strings that must never leave the browser.
const MARKERS = ['두레비밀표지QX41', 'ZEBRA-7731-MARKER', '행복시청_내부자료_9F'];
const PHONE = '010-4821-7730';
const RRN = '900101-1234568';
const EMAIL = 'kim.minjeong@happy.go.kr';
const ANSWER = '주민센터 민원실에서 신분증을 지참하고 신청하시면 됩니다';

function dataset(): string {
  const lines: string[] = [];
  for (let i = 0; i < 12; i++)
    lines.push(
      JSON.stringify({
        instruction: `${['여권', '등본', '전입신고'][i % 3]} 문의 ${i} ${MARKERS[i % 3]}`,
        input: i === 4 ? `연락처 ${PHONE}, 주민번호 ${RRN}` : '',
        output: `${ANSWER} (${i}).`,
      }),
    );
  lines.push(
    JSON.stringify({
      messages: [
        { role: 'user', content: `메일 ${EMAIL} 로 답장 주세요 ${MARKERS[0]}` },
        { role: 'assistant', content: '확인 후 연락드리겠습니다.' },
      ],
    }),
  );
  return lines.join('\n') + '\n';
}

const SECRETS = [...MARKERS, PHONE, RRN, EMAIL, ANSWER, '전입신고 문의'];

/** Every request of the context, pages and workers alike, with its body. */
function capture(page: Page): Request[] {
  const all: Request[] = [];
  page.context().on('request', (r) => all.push(r));
  return all;
}

function leaks(requests: Request[]): string[] {
  const found: string[] = [];
  for (const r of requests) {
    const body = r.postDataBuffer();
    // Bodies are JSON or safetensors: look for the UTF-8 bytes of each secret in both.
    const haystacks = [
      decodeURIComponent(r.url()),
      body ? body.toString('utf8') : '',
      body ? body.toString('latin1') : '',
    ];
    for (const s of SECRETS) {
      const latin = Buffer.from(s, 'utf8').toString('latin1');
      if (haystacks.some((h) => h.includes(s) || h.includes(latin)))
        found.push(`${s} in ${r.method()} ${r.url()}`);
    }
  }
  return found;
}

const consoleUrl = (taskId: string) =>
  `/console.html?model=${model.url}&task=${taskId}&max-seq-len=48&batch=2&poll-ms=300&lr=0.01`;

/**
 * A started task and the console enrolled as `${name} 기관`. `admit()` then makes it a member, with
 * a peer member that has already sent its update: the browser's update completes the cohort of
 * two, and as every member has then sent one the round closes early.
 */
async function setUp(page: Page, name: string) {
  const task = await server.admin.call<Task>('POST', '/v1/admin/tasks', taskSpec(name));
  await server.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
  const { enrollmentCode } = await server.admin.call<{ enrollmentCode: string }>(
    'POST',
    '/v1/admin/institutions',
    {
      name: `${name} 기관`,
    },
  );
  await page.goto(consoleUrl(task.id));
  await page.getByLabel('서버 주소').fill(server.url);
  await page.getByLabel('일회용 등록 코드').fill(enrollmentCode);
  await page.getByRole('button', { name: '등록' }).click();
  await expect(page.getByTestId('enrolled')).toContainText(`${name} 기관`);
  const institutionId = await institutionIdByName(server, `${name} 기관`);
  const admit = async () => {
    await addMembers(server, task.id, [institutionId]);
    return (await peerContributes(server, task.id, `${name} 동료 기관`)).id;
  };
  return { task, institutionId, admit };
}

async function pickDataset(page: Page) {
  await page.getByLabel('JSONL 파일 선택').setInputFiles({
    name: 'local.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(dataset(), 'utf8'),
  });
  await expect(page.getByTestId('dataset-records')).toHaveText('13');
}

test('console: enroll, local dataset, one full round on WebGPU, update accepted, nothing of the data sent', async ({
  page,
}, testInfo) => {
  test.setTimeout(90_000);
  const requests = capture(page);
  const { task, institutionId, admit } = await setUp(page, '민원 라운드');
  await pickDataset(page);
  await expect(page.getByTestId('pii-report').locator('tr[data-kind="phone"]')).toContainText('1');
  // Every status the page shows, as it changes: the phases must appear in order, with the round.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { __phases: string[] }).__phases = seen;
    const note = () => {
      const el = document.querySelector<HTMLElement>('[data-testid="round-phase"]');
      const line = el ? `${el.dataset['round']}|${el.dataset['phase']}|${el.textContent}` : '';
      if (line && seen.at(-1) !== line) seen.push(line);
    };
    new MutationObserver(note).observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
    });
  });
  await page.getByRole('button', { name: '라운드 참여 시작' }).click();
  // Not a member yet: the task does not exist for this institution, and the console says why.
  await expect(page.getByTestId('round-phase')).toHaveAttribute('data-phase', 'unassigned');
  await expect(page.getByTestId('round-phase')).toContainText('관리자가 이 기관을 과제 참여 기관으로 추가');
  const peerId = await admit();

  await expect(page.getByTestId('history').locator('tbody tr')).toHaveCount(1, { timeout: 75_000 });
  await expect(page.getByTestId('round-number')).toHaveText('1');
  const phases = await page.evaluate(() => (window as unknown as { __phases: string[] }).__phases);
  const order = [
    'downloading',
    'preparing',
    'evaluating-before',
    'training',
    'evaluating-after',
    'uploading',
    'submitted',
  ];
  let at = -1;
  for (const phase of order) {
    const i = phases.findIndex((p, k) => k > at && p.startsWith(`1|${phase}|`));
    expect(i, `${phase} after ${order[order.indexOf(phase) - 1]} in\n${phases.join('\n')}`).toBeGreaterThan(
      at,
    );
    at = i;
  }
  expect(phases.find((p) => p.startsWith('1|training|'))).toMatch(/라운드 1 · 학습 중 — 단계 \d+ \/ \d+/);
  // No raw server state anywhere in what was shown.
  expect(phases.join('\n')).not.toMatch(/\((open|collecting|aggregating)\)/);
  await expect(page.getByTestId('step-loss')).toHaveAttribute('data-points', String(LOCAL_STEPS));
  await expect(page.getByTestId('train-progress')).toHaveAttribute('value', String(LOCAL_STEPS));
  const before = await page.getByTestId('eval-before').locator('td').first().innerText();
  const after = await page.getByTestId('eval-after').locator('td').first().innerText();
  expect(Number(before)).toBeGreaterThan(0);
  expect(Number(after)).toBeGreaterThan(0);
  const row = await page.getByTestId('history').locator('tbody tr').first().innerText();
  testInfo.annotations.push({ type: 'metrics', description: JSON.stringify({ before, after, row }) });
  await page.screenshot({ path: testInfo.outputPath('console-round.png'), fullPage: true });

  // The server took the update: the round aggregated into version 1 with this institution.
  await expect
    .poll(
      async () =>
        (await server.admin.call<{ task: Task }>('GET', `/v1/admin/tasks/${task.id}`)).task.latestVersion,
      {
        timeout: 15_000,
      },
    )
    .toBe(1);
  const detail = await server.admin.call<{ rounds: { participants: { institutionId: string }[] }[] }>(
    'GET',
    `/v1/admin/tasks/${task.id}`,
  );
  expect(detail.rounds[0]!.participants.map((p) => p.institutionId).sort()).toEqual(
    [institutionId, peerId].sort(),
  );

  const uploads = requests.filter((r) => r.method() === 'POST' && /\/rounds\/1\/updates$/.test(r.url()));
  expect(uploads).toHaveLength(1);
  expect(uploads[0]!.postDataBuffer()?.byteLength).toBeGreaterThan(1000);
  expect(requests.length).toBeGreaterThan(5);
  expect(leaks(requests)).toEqual([]);
});

test('console: an upload cut off by the network is re-sent after a reload, without training again', async ({
  page,
}) => {
  test.setTimeout(90_000);
  const requests = capture(page);
  const { task, admit } = await setUp(page, '재전송 라운드');
  await admit();
  await pickDataset(page);
  const uploads = '**/rounds/1/updates';
  await page.route(uploads, (route) => route.abort('connectionreset'));
  await page.getByRole('button', { name: '라운드 참여 시작' }).click();
  // Trained and stored; every upload attempt fails and the client backs off.
  await expect(page.getByTestId('round-phase')).toHaveAttribute('data-phase', 'retrying', {
    timeout: 70_000,
  });
  await expect(page.getByTestId('step-loss')).toHaveAttribute('data-points', String(LOCAL_STEPS));
  // Reload before the network comes back: unrouting first lets the old page's next retry succeed
  // before it unloads, and then there is nothing left to re-send (a race, seen in CI).
  await page.reload();
  await expect(page.getByTestId('enrolled')).toContainText('재전송 라운드 기관'); // key from IndexedDB
  await page.unroute(uploads);
  await pickDataset(page);
  await page.getByRole('button', { name: '라운드 참여 시작' }).click();
  await expect(page.getByTestId('history').locator('tbody tr')).toHaveCount(1, { timeout: 40_000 });
  // The stored update went out as it was: no training step ran after the reload.
  await expect(page.getByTestId('step-loss')).toHaveAttribute('data-points', '0');
  await expect
    .poll(
      async () =>
        (await server.admin.call<{ task: Task }>('GET', `/v1/admin/tasks/${task.id}`)).task.latestVersion,
      { timeout: 30_000 },
    )
    .toBe(1);
  const sent = requests.filter((r) => r.method() === 'POST' && /\/rounds\/1\/updates$/.test(r.url()));
  expect(sent.length).toBeGreaterThanOrEqual(2);
  const bodies = new Set(sent.map((r) => r.postDataBuffer()?.toString('base64')));
  expect(bodies.size).toBe(1); // the very same bytes, re-sent
  expect(leaks(requests)).toEqual([]);
});

test('console under secure aggregation with DP: only keys, ciphertexts, shares and a masked vector leave; ε is shown', async ({
  page,
}, testInfo) => {
  test.setTimeout(120_000);
  const requests = capture(page);
  const spec = {
    ...taskSpec('보안 집계 라운드'),
    maxUpdateNorm: 1,
    privacy: { secureAggregation: true, dp: { epsilon: 8, delta: 1e-5 }, phaseSeconds: 20 },
  };
  const task = await server.admin.call<Task>('POST', '/v1/admin/tasks', spec);
  await server.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
  const { enrollmentCode } = await server.admin.call<{ enrollmentCode: string }>(
    'POST',
    '/v1/admin/institutions',
    {
      name: '보안 집계 기관',
    },
  );
  await page.goto(consoleUrl(task.id));
  await page.getByLabel('서버 주소').fill(server.url);
  await page.getByLabel('일회용 등록 코드').fill(enrollmentCode);
  await page.getByRole('button', { name: '등록' }).click();
  await expect(page.getByTestId('enrolled')).toContainText('보안 집계 기관');
  await addMembers(server, task.id, [await institutionIdByName(server, '보안 집계 기관')]);
  const peer = await securePeer(server, task.id, '보안 집계 동료 기관');
  await pickDataset(page);
  await page.getByRole('button', { name: '라운드 참여 시작' }).click();
  await expect(page.getByTestId('round-protection')).toContainText('보안 집계');
  await expect(page.getByTestId('privacy-budget')).toContainText('/ 8');
  await expect(page.getByTestId('history').locator('tbody tr')).toHaveCount(1, { timeout: 100_000 });
  await page.screenshot({ path: testInfo.outputPath('console-secure-round.png'), fullPage: true });
  // Protection stays shown while waiting, and the receipt is named, not '#0'.
  await expect(page.getByTestId('round-protection')).toContainText('보안 집계');
  await expect(page.getByTestId('history').locator('tbody tr').first()).toContainText('보안 집계로 제출');
  expect((await peer.done).kind).toBe('contributed');
  await expect
    .poll(
      async () =>
        (await server.admin.call<{ task: Task }>('GET', `/v1/admin/tasks/${task.id}`)).task.latestVersion,
      { timeout: 30_000 },
    )
    .toBe(1);
  // Round 1 waited for its members (no round failed while the task had none).
  const rounds = (
    await server.admin.call<{ rounds: { number: number; state: string }[] }>(
      'GET',
      `/v1/admin/tasks/${task.id}`,
    )
  ).rounds;
  expect(rounds.map((r) => [r.number, r.state])).toEqual([[1, 'closed']]);
  const budget = (
    await server.admin.call<{ privacy: { epsilonSpent: number; epsilon: number } }>(
      'GET',
      `/v1/admin/tasks/${task.id}`,
    )
  ).privacy;
  expect(budget.epsilonSpent).toBeGreaterThan(0);
  expect(budget.epsilonSpent).toBeLessThanOrEqual(8 * (1 + 1e-9));

  // What the browser sent for the round: the four phases, never a plaintext update.
  const posts = requests.filter((r) => r.method() === 'POST' && r.url().includes(`/v1/tasks/${task.id}/`));
  expect(posts.some((r) => /\/rounds\/1\/updates$/.test(r.url()))).toBe(false);
  for (const phase of ['advertise', 'share', 'masked', 'unmask'])
    expect(posts.filter((r) => r.url().endsWith(`/rounds/1/secure/${phase}`))).toHaveLength(1);
  const masked = posts.find((r) => r.url().endsWith('/secure/masked'))!.postDataBuffer()!;
  const words = new Uint32Array(
    masked.buffer.slice(masked.byteOffset, masked.byteOffset + masked.byteLength),
  );
  // A masked vector's words are spread over the whole 32-bit range (an update's are near 0 or 2^32).
  const high = words.filter((w) => w >= 2 ** 30 && w < 3 * 2 ** 30).length / words.length;
  expect(high).toBeGreaterThan(0.4);
  expect(high).toBeLessThan(0.6);
  expect(leaks(requests)).toEqual([]);
});
