/**
 * The whole flow of issue #20 as an operator and two institutions would run it, in Korean:
 * the federated server on a non-default port with CORS computed by the start-up logic
 * (scripts/start-origins.ts) for the Playwright web server's port, so the consoles reach it only
 * because that logic named their origin; the operator registers two institutions in the dashboard
 * and copies their one-time codes; two consoles (two browser contexts) enrol with them; the
 * operator creates a two-round task with the wizard; each console loads one of its own sample
 * datasets and both finish two rounds on WebGPU (SwiftShader); the operator attaches the held-out
 * loss the consoles measured and approves the candidate; a widget on the stable channel loads
 * exactly that version. Every screen visited: axe 0 violations and a screenshot in test-results;
 * no console request failed (CORS) or carried any text of its dataset.
 *
 * The widget reads adapters from the public route, and a public task needs k ≥ 5 with DP under
 * secure aggregation (src/protocol/task-rules.ts). Three peer institutions (Node) therefore join
 * each secure round beside the two browsers; under secure aggregation no institution's eval loss
 * reaches the server, so the gate is an operator evaluation carrying the consoles' held-out loss.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Browser, type Page, type Request, type TestInfo } from '@playwright/test';
import { AdminClient, httpTransport, InstitutionClient } from '../federated-server/src/testing/client.ts';
import { decodeAdapter } from '../src/protocol/adapter-codec.ts';
import type { FitInstructions, Task } from '../src/protocol/schemas.ts';
import type { SecureRoundView } from '../src/protocol/secure-round.ts';
import { contributeSecurely, type SecureOutcome } from '../src/fl/secure-contribution.ts';
import { startCorsOrigins } from '../scripts/start-origins.ts';
import { E2E_ADMIN_TOKEN, startE2eServer, type E2eServer } from './console-server.ts';
import { chat, waitReady } from './widget-helpers.ts';
import { publishWidgetModel, type WidgetModel } from './widget-model.ts';

test.use({ locale: 'ko-KR' });

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = process.env['DURE_E2E_OUTDIR'] ?? 'dist';
const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const ROUNDS = 2;

let model: WidgetModel;
let fl: E2eServer | undefined;
let server = '';
let admin: AdminClient;

test.beforeAll(async ({ baseURL }) => {
  model = await publishWidgetModel();
  const webPort = Number(new URL(baseURL!).port);
  expect(webPort).not.toBe(5173); // the default web port would pass with the old fixed CORS list
  fl = await startE2eServer(
    {
      PORT: '0', // any free port: never the default 8787
      DURE_TICK_MS: '200',
      // as scripts/start.ts computes it from the web port, with nothing configured by hand
      DURE_CORS_ORIGINS: startCorsOrigins(webPort, undefined),
      DURE_CONSOLE_URL: `${baseURL}/console.html`,
      DURE_DASHBOARD_DIR: OUT_DIR,
      // the wizard offers the GGUFs here: the tiny test model the consoles and widget load
      DURE_MODELS_DIR: join(OUT_DIR, 'models'),
    },
    'dure-e2e-flow-',
  );
  server = fl.url;
  expect(new URL(server).port).not.toBe('8787');
  admin = new AdminClient(httpTransport(server), E2E_ADMIN_TOKEN);
});

test.afterAll(() => fl?.stop());

/** axe 0 violations (WCAG 2.1 AA) and a full-page screenshot of this screen. */
async function checkScreen(page: Page, info: TestInfo, name: string) {
  const axe = await new AxeBuilder({ page }).withTags(WCAG_21_AA).analyze();
  expect(
    axe.violations.map((v) => `${name}: ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
  ).toEqual([]);
  await page.screenshot({ path: info.outputPath(`flow-${name}.png`), fullPage: true });
}

/**
 * One Node peer's part in secure round `round`: waits for the round's instructions, then runs the
 * SecAgg+ phases with a small shift of the global adapter (clipped to the task's bound).
 */
async function peerRound(peer: InstitutionClient, taskId: string, round: number): Promise<SecureOutcome> {
  const ok = async (method: string, url: string, body?: string | Uint8Array) => {
    const r = await peer.request(method, url, body);
    if (r.status !== 200)
      throw new Error(`${method} ${url} → ${r.status} ${new TextDecoder().decode(r.body)}`);
    return r;
  };
  let ins: FitInstructions | null = null;
  for (const until = Date.now() + 240_000; Date.now() < until;) {
    ins = (await ok('GET', `/v1/tasks/${taskId}/work`)).json<{ instructions: FitInstructions | null }>()
      .instructions;
    if (ins?.round === round && ins.secure) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (ins?.round !== round || !ins.secure) throw new Error(`round ${round} never opened for the peer`);
  const global = decodeAdapter((await ok('GET', `/v1/tasks/${taskId}/adapters/${ins.globalVersion}`)).body)
    .lora.tensors;
  const shift = 0.001;
  let sq = 0;
  for (const data of global.values()) sq += data.length * shift * shift;
  const k = Math.min(1, (ins.maxUpdateNorm * 0.99) / Math.sqrt(sq));
  const tensors = [...global].map(([name, data]) => ({
    name,
    shape: [data.length],
    data: data.map((v) => v + shift * k),
  }));
  const base = `/v1/tasks/${taskId}/rounds/${round}/secure`;
  return contributeSecurely({
    fit: ins.secure,
    maxUpdateNorm: ins.maxUpdateNorm,
    tensors: ins.trainA ? tensors : tensors.filter((t) => t.name.includes('lora_B')),
    global,
    pollMs: 200,
    transport: {
      view: async () => (await ok('GET', base)).json<SecureRoundView>(),
      post: async (phase, body) => void (await ok('POST', `${base}/${phase}`, JSON.stringify(body))),
      postMasked: async (bytes) => void (await ok('POST', `${base}/masked`, bytes)),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    },
  });
}

/** Every text of a JSONL dataset's records (instruction, input, output, message contents) of 8+ chars. */
function datasetStrings(jsonl: string): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.length >= 8) out.add(v);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  for (const line of jsonl.split('\n')) if (line.trim()) walk(JSON.parse(line));
  return [...out];
}

/** The dataset strings found in a request's URL or body (UTF-8 bytes, read either way). */
function leaks(requests: Request[], secrets: string[]): string[] {
  const found: string[] = [];
  for (const r of requests) {
    const body = r.postDataBuffer();
    const hay = [decodeURIComponent(r.url()), body?.toString('utf8') ?? '', body?.toString('latin1') ?? ''];
    for (const s of secrets) {
      const latin = Buffer.from(s, 'utf8').toString('latin1');
      if (hay.some((h) => h.includes(s) || h.includes(latin))) found.push(`${s} in ${r.method()} ${r.url()}`);
    }
  }
  return found;
}

async function openConsole(browser: Browser, baseURL: string) {
  const context = await browser.newContext({ locale: 'ko-KR', baseURL, acceptDownloads: true });
  const page = await context.newPage();
  // every request the console sends to the server must be allowed by CORS: none may fail
  const failed: string[] = [];
  const requests: Request[] = [];
  context.on('request', (r) => requests.push(r)); // pages and workers alike
  page.on('requestfailed', (r) => {
    if (r.url().startsWith(server)) failed.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  await page.goto(`/console.html?model=${model.url}&max-seq-len=32&batch=1&poll-ms=300&lr=0.01`);
  return { context, page, failed, requests, sample: '' };
}

test('operator → two institutions → two rounds → approval → widget on the stable channel', async ({
  page,
  browser,
  baseURL,
}, info) => {
  test.setTimeout(600_000);
  const started = Date.now();
  const names = ['가람 구청', '나래 보건소'];

  // The operator signs in and registers the two institutions, copying each one-time code.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto(`${server}/admin`);
  await checkScreen(page, info, 'admin-sign-in');
  await page.getByLabel('관리자 토큰').fill(E2E_ADMIN_TOKEN);
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByTestId('signed-in')).toContainText('bootstrap');
  await page.getByRole('button', { name: '기관', exact: true }).click();
  const codes: string[] = [];
  for (const name of names) {
    await page.getByLabel('기관 이름').fill(name);
    await page.getByRole('button', { name: '기관 추가' }).click();
    const card = page.getByTestId('enrollment-code');
    await expect(card).toContainText(name);
    await expect(card.getByRole('link')).toHaveAttribute('href', `${baseURL}/console.html`);
    if (codes.length) await expect(card.getByTestId('code-value')).not.toHaveText(codes[0]!);
    await card.getByRole('button', { name: '코드 복사' }).click();
    await expect(card).toContainText('복사했습니다');
    codes.push(await page.evaluate(() => navigator.clipboard.readText()));
    expect(codes.at(-1)).toBe(await card.getByTestId('code-value').textContent());
  }
  await checkScreen(page, info, 'admin-institutions');

  // Each institution's staff enrol their console with the code they were given.
  const consoles = [];
  for (const [i, name] of names.entries()) {
    const c = await openConsole(browser, baseURL!);
    await c.page.getByLabel('서버 주소').fill(server);
    await c.page.getByLabel('일회용 등록 코드').fill(codes[i]!);
    await c.page.getByRole('button', { name: '등록' }).click();
    await expect(c.page.getByTestId('enrolled')).toContainText(name);
    consoles.push(c);
  }
  await checkScreen(consoles[0]!.page, info, 'console-enrolled');

  // Three more institutions enrolled from Node: a task whose adapters reach citizens needs five.
  const peers: InstitutionClient[] = [];
  for (let i = 0; i < 3; i++)
    peers.push(await InstitutionClient.enroll(httpTransport(server), admin, `다솜 동료 기관 ${i}`));

  // The wizard: the base model read from the GGUF, two rounds of one step, secure aggregation, DP,
  // public to citizens, the five members.
  await page.getByRole('button', { name: '기관', exact: true }).click();
  for (const name of names)
    await expect(page.getByRole('row').filter({ hasText: name })).not.toContainText('등록 대기');
  await page.getByRole('button', { name: '새 과제 만들기' }).click();
  const wizard = page.getByTestId('wizard');
  await wizard.getByLabel('기반 모델').selectOption('widget-test');
  await expect(wizard.getByTestId('model-facts')).toContainText(model.sha256);
  await wizard.getByLabel('과제 이름').fill('민원 안내 연합학습');
  await wizard.locator('#w-rank').fill('4');
  await wizard.locator('#w-alpha').fill('8');
  await wizard.locator('#w-rounds').fill(String(ROUNDS));
  await wizard.locator('#w-steps').fill('1');
  await wizard.locator('#w-k').fill('5');
  await wizard.getByLabel('차등 프라이버시 켜기').check();
  await wizard.getByLabel('시민에게 공개').check();
  for (const name of [...names, ...peers.map((_, i) => `다솜 동료 기관 ${i}`)])
    await wizard.getByLabel(name).check();
  await expect(wizard.getByTestId('wizard-status')).toContainText('만들 수 있습니다');
  await checkScreen(page, info, 'admin-wizard');
  await wizard.getByRole('button', { name: '과제 만들기' }).click();
  const taskPage = page.getByTestId('task-page');
  await expect(taskPage.getByRole('heading', { level: 2 })).toHaveText('민원 안내 연합학습');
  await expect(taskPage.getByTestId('setting-sha256')).toHaveText(model.sha256);
  await expect(taskPage.getByTestId('setting-secagg')).toHaveText('예');
  await expect(taskPage.getByTestId('setting-k')).toHaveText('5');
  await expect(taskPage.getByTestId('setting-public')).toHaveText('예');
  const tasks = await admin.call<Task[]>('GET', '/v1/admin/tasks');
  const task = tasks.find((t) => t.name === '민원 안내 연합학습')!;
  expect(task.rounds).toBe(ROUNDS);
  expect(task.localSteps).toBe(1);
  await page.getByRole('button', { name: '시작' }).click();
  await expect(taskPage.getByTestId('countdown')).toContainText('분');
  await checkScreen(page, info, 'admin-task-page');

  // The peers take part in both rounds in the background.
  const peerRuns = peers.map(async (p) => {
    const out: SecureOutcome[] = [];
    for (let r = 1; r <= ROUNDS; r++) out.push(await peerRound(p, task.id, r));
    return out;
  });

  // Each console loads one of its own sample datasets (downloaded from the console) and joins.
  for (const [i, c] of consoles.entries()) {
    const link = c.page
      .getByTestId('sample-datasets')
      .getByRole('link')
      .nth(i === 0 ? 0 : 2);
    const [download] = await Promise.all([c.page.waitForEvent('download'), link.click()]);
    const file = (await download.path())!;
    c.sample = await readFile(file, 'utf8');
    await c.page.getByLabel('JSONL 파일 선택').setInputFiles(file);
    await expect(c.page.getByTestId('dataset-records')).not.toHaveText('0');
    if (i === 0) await checkScreen(c.page, info, 'console-dataset');
    await c.page.getByRole('button', { name: '라운드 참여 시작' }).click();
    await expect(c.page.getByTestId('round-protection')).toContainText('보안 집계', { timeout: 60_000 });
  }
  for (const c of consoles)
    await expect(c.page.getByTestId('history').locator('tbody tr')).toHaveCount(ROUNDS, { timeout: 420_000 });
  const outcomes = await Promise.all(peerRuns);
  expect(outcomes.flat().every((o) => o.kind === 'contributed')).toBe(true);
  await expect
    .poll(
      async () => (await admin.call<{ task: Task }>('GET', `/v1/admin/tasks/${task.id}`)).task.latestVersion,
      {
        timeout: 60_000,
      },
    )
    .toBe(ROUNDS);
  const detail = await admin.call<{ rounds: { number: number; state: string }[] }>(
    'GET',
    `/v1/admin/tasks/${task.id}`,
  );
  expect(detail.rounds.map((r) => [r.number, r.state])).toEqual([
    [1, 'closed'],
    [2, 'closed'],
  ]);
  const heldOut: string[] = [];
  for (const [i, c] of consoles.entries()) {
    await expect(c.page.getByTestId('round-number')).toHaveText(String(ROUNDS));
    const before = await c.page.getByTestId('eval-before').locator('td').first().innerText();
    const after = await c.page.getByTestId('eval-after').locator('td').first().innerText();
    expect(Number(before)).toBeGreaterThan(0);
    expect(Number(after)).toBeGreaterThan(0);
    heldOut.push(`${names[i]} ${before}→${after}`);
    await checkScreen(c.page, info, `console-${i + 1}-two-rounds`);
    expect(c.failed).toEqual([]);
    // nothing of the dataset left the browser, in any URL or body (secure rounds send only keys,
    // ciphertexts, shares and a masked vector)
    expect(c.requests.length).toBeGreaterThan(10);
    expect(datasetStrings(c.sample).length).toBeGreaterThan(50);
    expect(leaks(c.requests, datasetStrings(c.sample))).toEqual([]);
  }

  // The operator sees the candidate, attaches the held-out loss and approves it.
  const publicLatest = async () =>
    (await fetch(`${server}/v1/public/tasks/${task.id}/adapters/latest`)).headers.get(
      'x-dure-adapter-version',
    );
  expect(await publicLatest()).toBe('0'); // a candidate is not released
  await page.getByRole('button', { name: '과제', exact: true }).click();
  await page.getByRole('button', { name: '민원 안내 연합학습' }).click();
  const candidate = page.getByTestId(`release-v${ROUNDS}`);
  await expect(candidate).toContainText('승인 대기', { timeout: 20_000 });
  await expect(candidate.getByRole('button', { name: '승인' })).toBeDisabled();
  await candidate.getByRole('button', { name: '평가 첨부' }).click();
  await candidate.getByLabel('평가 요약').fill(`검증 손실 (기관 콘솔, 학습 전→후): ${heldOut.join(', ')}`);
  await candidate.getByRole('button', { name: '평가 저장' }).click();
  await expect(candidate).toContainText('운영자 평가');
  await checkScreen(page, info, 'admin-candidate');
  await candidate.getByRole('button', { name: '승인' }).click();
  await expect(candidate).toContainText('배포됨');
  await expect(candidate).toContainText('stable');
  await expect.poll(publicLatest).toBe(String(ROUNDS));
  await checkScreen(page, info, 'admin-released');
  const released = await fetch(`${server}/v1/public/tasks/${task.id}/adapters/latest`);
  const releasedSha = released.headers.get('x-dure-adapter-sha256')!;
  expect(releasedSha).toMatch(/^[0-9a-f]{64}$/);

  // A widget following the stable channel loads exactly the approved version.
  const pageName = 'e2e-flow-portal.html';
  // Adapters are applied by Dure's WebGPU engine only: under "auto" the measured choice on this
  // machine's software adapter is llama.cpp on the CPU, which cannot apply them.
  await writeFile(
    join(ROOT, OUT_DIR, pageName),
    `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>민원 안내</title>
<script type="module" src="/dure-chat.js"></script></head><body><main>
<dure-chat model="${model.url}" sha256="${model.sha256}" backend="webgpu" autoload temperature="0" max-tokens="8"
  conversation-id="e2e-flow" adapter-task="${task.id}" adapter-server="${server}"
  adapter-version="stable" adapter-interval="1"></dure-chat></main></body></html>`,
  );
  // a page of its own context: AxeBuilder refuses a page made by browser.newPage()
  const widgetContext = await browser.newContext({ locale: 'ko-KR' });
  const widget = await widgetContext.newPage();
  await widget.goto(`${baseURL}/${pageName}`);
  await waitReady(widget);
  const status = chat(widget).getByTestId('adapter-status');
  await expect(status).toHaveAttribute('data-adapter-version', String(ROUNDS), { timeout: 30_000 });
  await expect(status).toHaveAttribute('title', releasedSha);
  await checkScreen(widget, info, 'widget');

  info.annotations.push({
    type: 'flow',
    description: JSON.stringify({ seconds: Math.round((Date.now() - started) / 1000), heldOut, releasedSha }),
  });
  for (const c of consoles) await c.context.close();
  await widgetContext.close();
});
