/**
 * Every entry of the error catalogue is thrown inside a real Web Worker in Chromium and must arrive
 * on the page as the same class (instanceof) with the same code — the classes are registered by the
 * module that rebuilds them, so no side-effect import can be forgotten. The fixture page is served
 * by its own Vite dev server. The built widget bundle is also checked to carry the engine errors a
 * page can receive (before, none of them were in dist/dure-chat.js).
 */
import { expect, test } from '@playwright/test';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';

const ROOT = resolve(import.meta.dirname, '..');
let server: ViteDevServer;
let url = '';

test.beforeAll(async () => {
  server = await createServer({
    configFile: false,
    root: ROOT,
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 0, strictPort: false },
    worker: { format: 'es' },
    optimizeDeps: { include: ['comlink'] },
  });
  await server.listen();
  url = server.resolvedUrls!.local[0]!;
});

test.afterAll(async () => {
  await server?.close();
});

test('every catalogue entry thrown in a worker is rebuilt on the page as its class, with its code', async ({
  page,
}) => {
  await page.goto(new URL('e2e/fixtures/error-catalogue/index.html', url).href);
  await page.waitForFunction(() => 'runCatalogue' in window, null, { timeout: 60_000 });
  const rows = await page.evaluate(() =>
    (
      window as unknown as {
        runCatalogue: () => Promise<
          {
            className: string;
            code: string;
            instanceOfClass: boolean;
            instanceOfDureError: boolean;
            name: string;
            gotCode: string;
            message: string;
          }[]
        >;
      }
    ).runCatalogue(),
  );
  expect(rows.length).toBeGreaterThan(80);
  const wrong = rows.filter(
    (r) =>
      !r.instanceOfClass ||
      !r.instanceOfDureError ||
      r.gotCode !== r.code ||
      r.name !== r.className ||
      r.message !== `thrown in a worker: ${r.code}`,
  );
  expect(wrong).toEqual([]);
  const names = new Set(rows.map((r) => r.className));
  for (const n of ['ContextOverflowError', 'ModelTooLargeError', 'EngineStateError', 'LoraAdapterError'])
    expect(names).toContain(n);
});

test('the built widget bundle can rebuild the engine errors a page receives', () => {
  // `vite build` ran before the suite (playwright.config.ts webServer).
  const entry = join(ROOT, process.env['DURE_E2E_OUTDIR'] ?? 'dist', 'dure-chat.js');
  expect(existsSync(entry), 'dist/dure-chat.js is built before e2e').toBe(true);
  const seen = new Set<string>();
  const code: string[] = [];
  const walk = (file: string) => {
    if (seen.has(file) || !existsSync(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    code.push(src);
    for (const m of src.matchAll(/(?:import|from)\s*\(?\s*["'](\.{1,2}\/[^"']+\.js)["']/g))
      walk(resolve(dirname(file), m[1]!));
  };
  walk(entry);
  const bundle = code.join('\n');
  for (const n of ['ContextOverflowError', 'ModelTooLargeError', 'EngineStateError', 'LoraAdapterError'])
    // A minifier may quote the class's name field with any of the three JS quotes.
    expect(bundle, `${n} in the widget's module graph`).toMatch(new RegExp(`["'\`]${n}["'\`]`));
});
