/**
 * Offline on a real portal, as README's "Offline" sets it up: a portal server with its own page at
 * `/minwon/` and Dure's files copied to `/dure/`, and no `/` and no `/demo/` page (the old service
 * worker precached those two and failed to install anywhere else). The page is README's embed
 * example, its service worker README's portal example, both read from README.md with only the
 * documented placeholders filled in. After one chat the browser goes offline and reloads; the
 * widget must start from the stored model and answer again. Dure's cache must then hold only the
 * widget's files (the CPU path's wasm only when that path ran) and its scope must be `/dure/`.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { fillPlaceholders, readmeExample } from '../src/testing/readme-examples.ts';
import { startStaticServer, type StaticServer } from './portal-server.ts';
import { askAndWait, chat, waitReady, watchForeignRequests } from './widget-helpers.ts';
import { publishWidgetModel, type WidgetModel } from './widget-model.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Playwright's webServer builds the app into this folder before any test runs.
const DIST = resolve(ROOT, process.env['DURE_E2E_OUTDIR'] ?? 'dist');

let model: WidgetModel;
let dir: string;
let server: StaticServer;

test.beforeAll(async () => {
  model = await publishWidgetModel();
});

test.beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dure-offline-'));
  // What a portal uploads: Dure's files only, in a folder of their own.
  await mkdir(join(dir, 'dure'));
  for (const f of ['dure-chat.js', 'sw.js', 'assets'])
    await cp(join(DIST, f), join(dir, 'dure', f), { recursive: true });
  await mkdir(join(dir, 'minwon'));
  server = await startStaticServer({
    mounts: [
      { prefix: '/dure/', dir: join(dir, 'dure') },
      { prefix: '/minwon/', dir: join(dir, 'minwon') },
      { prefix: '/models/', dir: join(DIST, 'models') },
    ],
  });
});

test.afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** README's embed example in a portal page; `extra` attributes are added for a test variant. */
async function writePortal(extra = ''): Promise<void> {
  let embed = fillPlaceholders(readmeExample('embed'), {
    origin: server.origin,
    model: model.url,
    sha256Attribute: model.sha256,
  });
  if (extra) embed = embed.replace('<dure-chat\n', `<dure-chat\n  ${extra}\n`);
  await writeFile(
    join(dir, 'minwon', 'index.html'),
    `<!doctype html>
<html lang="ko">
  <head>
    <meta charset="utf-8" />
    <title>행복시 민원포털</title>
  </head>
  <body>
    <h1>행복시 민원포털</h1>
${embed}
  </body>
</html>
`,
  );
  await writeFile(join(dir, 'minwon', 'sw.js'), readmeExample('portal-sw'));
}

async function openPanel(page: Page): Promise<void> {
  await chat(page).getByRole('button', { name: 'AI 상담 열기' }).click();
}

/** Short answers keep the test quick; README's example leaves the default. */
const shortAnswers = (page: Page) => chat(page).evaluate((el) => el.setAttribute('max-tokens', '12'));

interface Registration {
  scope: string;
  script: string | undefined;
}

async function registrations(page: Page): Promise<Registration[]> {
  return page.evaluate(async () =>
    (await navigator.serviceWorker.getRegistrations())
      .map((r) => ({ scope: r.scope, script: r.active?.scriptURL }))
      .sort((a, b) => a.scope.localeCompare(b.scope)),
  );
}

/** Every cache of the origin: name → [url, bytes] of each entry. */
async function cacheContents(page: Page): Promise<Record<string, [string, number][]>> {
  return page.evaluate(async () => {
    const out: Record<string, [string, number][]> = {};
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      out[name] = [];
      for (const req of await cache.keys())
        out[name].push([req.url, (await (await cache.match(req))!.blob()).size]);
    }
    return out;
  });
}

async function backendOf(page: Page): Promise<string> {
  return (await chat(page).locator('.backend').getAttribute('data-backend')) ?? '';
}

async function oneChatThenOffline(page: Page, expectBackend?: 'wasm-cpu'): Promise<void> {
  const origin = server.origin;
  const foreign = watchForeignRequests(page, origin);
  for (const path of ['/', '/demo/', '/demo/index.html', '/index.html'])
    expect((await page.request.get(`${origin}${path}`)).status(), `${path} does not exist`).toBe(404);

  await page.goto(`${origin}/minwon/`);
  // Both service workers installed and active; the page is the portal's worker's, not Dure's.
  await expect
    .poll(() => registrations(page), { timeout: 30_000 })
    .toEqual([
      { scope: `${origin}/dure/`, script: `${origin}/dure/sw.js` },
      { scope: `${origin}/minwon/`, script: `${origin}/minwon/sw.js` },
    ]);
  await expect
    .poll(() => page.evaluate(() => navigator.serviceWorker.controller?.scriptURL))
    .toBe(`${origin}/minwon/sw.js`);

  // One chat.
  await openPanel(page);
  await chat(page)
    .getByRole('button', { name: /AI 상담 시작/ })
    .click();
  await waitReady(page);
  const backend = await backendOf(page);
  if (expectBackend) expect(backend).toBe(expectBackend);
  await shortAnswers(page);
  const first = await askAndWait(page, '전입신고는 어디에서 하나요?');
  await expect(first.locator('.md')).not.toBeEmpty();

  // What was kept: Dure's cache holds Dure's widget files only, from Dure's folder.
  const caches = await cacheContents(page);
  const dureCaches = Object.keys(caches).filter((n) => n.startsWith('dure-'));
  expect(dureCaches).toHaveLength(1);
  expect(dureCaches[0]).toMatch(/^dure-files-[0-9a-f]{16}$/);
  const kept = caches[dureCaches[0]!]!;
  const files = kept.map(([url]) => url.slice(`${origin}/dure/`.length));
  for (const [url] of kept) expect(url.startsWith(`${origin}/dure/`), url).toBe(true);
  for (const f of files) expect(f).toMatch(/^(dure-chat\.js|assets\/[\w.-]+\.(js|wasm))$/);
  expect(files).toContain('dure-chat.js');
  expect(files.some((f) => /^assets\/gpu-probe\.worker-/.test(f))).toBe(true);
  expect(files.some((f) => /^assets\/inference\.worker-/.test(f))).toBe(true);
  expect(
    files.filter((f) => /training\.worker|\/(admin|console|playground|diagnostics|main)-/.test(f)),
  ).toEqual([]);
  const wasm = files.filter((f) => f.endsWith('.wasm'));
  if (backend === 'wasm-cpu') expect(wasm).toHaveLength(1);
  else {
    expect(wasm, 'the CPU wasm is kept only when the CPU path ran').toEqual([]);
    const bytes = kept.reduce((n, [, size]) => n + size, 0);
    expect(bytes, 'about 1 MB, not the whole build').toBeLessThan(2_000_000);
  }
  // The portal's own cache holds its page; the model is in OPFS, in no cache.
  expect(caches['portal-offline-v1']?.map(([url]) => url)).toContain(`${origin}/minwon/`);
  for (const entries of Object.values(caches))
    for (const [url] of entries) expect(url).not.toMatch(/\.gguf$/);

  // Offline, reload: the page, the widget and the model all come from the browser.
  await page.context().setOffline(true);
  await page.reload();
  await openPanel(page);
  await waitReady(page);
  expect(await backendOf(page)).toBe(backend);
  await expect(chat(page).locator('article[data-role=assistant]')).toHaveCount(1);
  await shortAnswers(page);
  const again = await askAndWait(page, '오프라인에서도 답할 수 있나요?');
  await expect(again.locator('.md')).not.toBeEmpty();
  await expect(chat(page).locator('article[data-role=assistant]')).toHaveCount(2);
  await page.context().setOffline(false);
  expect(foreign, 'no request left the portal origin').toEqual([]);
}

test("README's embed and portal worker: a portal without / or /demo/ chats, goes offline, reloads and chats again", async ({
  page,
}) => {
  await writePortal();
  await oneChatThenOffline(page);
});

test('the same on the CPU path: the wasm is kept once it ran, and answers offline', async ({ page }) => {
  await writePortal('backend="wasm-cpu"');
  await oneChatThenOffline(page, 'wasm-cpu');
});
