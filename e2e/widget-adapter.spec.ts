/**
 * Widget hot-load of a federated adapter in Chromium: a `<dure-chat>` configured with
 * `adapter-task` polls the real federated server, applies version 0 (B = 0: the base model), then
 * — without a page reload — picks up version 1 once a round is aggregated and an admin approved
 * it (not before), shows it, and its greedy answer to the same question changes. Public adapters
 * need a cohort of at least five and differential privacy, so secure aggregation (issue #15): five
 * member institutions take part in a secure round with the same update, so version 1 is that
 * update plus the task's DP noise.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { httpTransport, InstitutionClient } from '../federated-server/src/testing/client.ts';
import { PUBLIC_PRIVACY } from '../federated-server/src/testing/harness.ts';
import { runSecureRound } from '../federated-server/src/testing/secure-round.ts';
import { adapterTensorSpecs, seededLoraA } from '../src/protocol/lora.ts';
import { PUBLIC_MIN_COHORT, type Task } from '../src/protocol/schemas.ts';
import { addMembers, startFlServer, testModelTask, type E2eServer } from './console-server.ts';
import { askAndWait, chat, waitReady } from './widget-helpers.ts';
import { publishWidgetModel, type WidgetModel } from './widget-model.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let model: WidgetModel;
let server: E2eServer;

test.beforeAll(async ({ baseURL }) => {
  model = await publishWidgetModel();
  server = await startFlServer(new URL(baseURL ?? '').origin);
});
test.afterAll(() => server?.stop());

const UPDATE_NORM = 4;
const task = testModelTask({
  name: '민원 안내 어댑터',
  baseModel: { id: 'widget-test', sha256: 'a'.repeat(64) },
  seed: 7,
  localSteps: 1,
  // Clipped in the client and noised in proportion (DP), so the bound sets how far v1 moves; 4
  // keeps the fixed-point sum far from wrapping (QUANT_HEADROOM) and surely moves the logits.
  maxUpdateNorm: UPDATE_NORM,
  publicAdapters: true,
  minParticipants: PUBLIC_MIN_COHORT,
  privacy: PUBLIC_PRIVACY,
});

/** The seeded A of the task and a deterministic B of L2 norm UPDATE_NORM (v0's B is zero). */
function strongUpdate() {
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const tensors = adapterTensorSpecs(task.modelShape, task.lora).map((spec) => ({
    ...spec,
    data: spec.name.includes('lora_A')
      ? seededLoraA(task.lora.seed, spec.name, spec.shape[0]!, spec.shape[1]!)
      : Float32Array.from({ length: spec.shape[0]! * spec.shape[1]! }, () => rnd()),
  }));
  const bs = tensors.filter((t) => t.name.includes('lora_B'));
  const norm = Math.sqrt(bs.reduce((a, t) => a + t.data.reduce((b, x) => b + x * x, 0), 0));
  for (const t of bs) t.data = t.data.map((x) => (x * UPDATE_NORM * (1 - 1e-6)) / norm);
  return tensors;
}

test('widget hot-loads each new global adapter without a reload; greedy answer changes', async ({
  page,
  baseURL,
}, testInfo) => {
  // Started only once its members are in: the self-ticking server would otherwise end a secure
  // round that no member can join (its advertise phase is over when every member, none, advertised).
  const created = await server.admin.call<Task>('POST', '/v1/admin/tasks', task);

  // No `allowed-origins`: the adapter-server attribute's own origin is trusted for adapters.
  // A minimal portal page written into the preview server's root (a page fulfilled by
  // page.route would count as a public address space, and Chromium's Local Network Access would
  // then refuse its requests to the loopback federated server).
  const pageName = 'e2e-adapter-portal.html';
  // Adapters are applied by Dure's WebGPU engine only: under "auto" the measured choice on this
  // machine's software adapter is llama.cpp on the CPU, which cannot apply them.
  await writeFile(
    join(ROOT, process.env['DURE_E2E_OUTDIR'] ?? 'dist', pageName),
    `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>어댑터 시험</title>
<script type="module" src="/dure-chat.js"></script></head><body><main>
<dure-chat model="${model.url}" sha256="${model.sha256}" backend="webgpu" autoload temperature="0" max-tokens="12"
  conversation-id="e2e-adapter" adapter-task="${created.id}" adapter-server="${server.url}"
  adapter-interval="1"></dure-chat></main></body></html>`,
  );
  const pageUrl = `${baseURL}/${pageName}`;
  // Every poll of the adapter: an unchanged one must be a bodiless 304 (If-None-Match, cross-origin).
  const polls: number[] = [];
  page.on('response', (r) => {
    if (r.url().endsWith(`/v1/public/tasks/${created.id}/adapters/latest`)) polls.push(r.status());
  });
  await page.goto(pageUrl);
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  await waitReady(page);
  const status = chat(page).getByTestId('adapter-status');
  await expect(status).toHaveAttribute('data-adapter-version', '0', { timeout: 20_000 });
  await expect(status).toContainText('적용된 연합학습 어댑터: v0');

  const question = '여권은 어디에서 발급받나요?';
  const answer = async () => {
    await chat(page).getByRole('button', { name: '대화 기록 지우기' }).click();
    return (await (await askAndWait(page, question)).locator('.md').innerText()).trim();
  };
  const before = await answer();
  // Greedy decoding is deterministic: the same question gives the same answer while v0 is active.
  expect(await answer()).toBe(before);

  // Five member institutions contribute the same strong update through secure aggregation; the
  // round aggregates into version 1, their mean (that update) plus the DP noise.
  const insts: InstitutionClient[] = [];
  for (let i = 0; i < PUBLIC_MIN_COHORT; i++)
    insts.push(await InstitutionClient.enroll(httpTransport(server.url), server.admin, `행복시청 ${i}`));
  await addMembers(
    server,
    created.id,
    insts.map((i) => i.id),
  );
  await server.admin.call('POST', `/v1/admin/tasks/${created.id}/start`);
  // the server ticks itself: the institutions only poll
  const { outcomes } = await runSecureRound({
    institutions: insts,
    taskId: created.id,
    updates: insts.map(() => strongUpdate()),
    pollMs: 100,
  });
  expect(outcomes.every((o) => o !== 'dropped' && o.kind === 'contributed')).toBe(true);
  await expect
    .poll(
      async () =>
        (await server.admin.call<{ task: Task }>('GET', `/v1/admin/tasks/${created.id}`)).task.latestVersion,
      {
        timeout: 20_000,
      },
    )
    .toBe(1);
  // Version 1 is a candidate until an admin releases it (governed releases): the widget stays on v0.
  await new Promise((r) => setTimeout(r, 2500)); // more than two polls
  await expect(status).toHaveAttribute('data-adapter-version', '0');
  await server.admin.call('POST', `/v1/admin/tasks/${created.id}/releases/1/evaluation`, {
    passed: true,
    summary: 'e2e: strong update expected to change answers',
  });
  await server.admin.call('POST', `/v1/admin/tasks/${created.id}/releases/1/approve`, {});

  await expect(status).toHaveAttribute('data-adapter-version', '1', { timeout: 20_000 });
  await expect(status).toContainText('v1');
  expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);

  // v0 and v1 were each downloaded once; every other poll was answered "not modified"
  expect(polls.filter((s) => s === 200)).toEqual([200, 200]);
  expect(polls.filter((s) => s === 304).length).toBeGreaterThan(0);
  expect(polls.every((s) => s === 200 || s === 304)).toBe(true);

  const after = await answer();
  testInfo.annotations.push({ type: 'answers', description: JSON.stringify({ before, after }) });
  expect(after).not.toBe(before);
  await page.screenshot({ path: testInfo.outputPath('widget-adapter-v1.png') });
});
