/**
 * README's widget and SDK examples, run as written (read from README.md; only the documented
 * placeholders — the portal's origin, the model's URL and its SHA-256 — are filled in):
 * - the package is built (`npm run build:sdk`), packed (`npm pack`) and installed offline into a new
 *   project; TypeScript checks a file that uses its types;
 * - the `createDure` example is that project's `main.js`: `vite build` builds it and Chromium runs
 *   it until the answer has streamed in;
 * - the same example runs in a plain page, with README's import map, against the installed
 *   package's files served as they are; with the `'…'` placeholder left in it is refused with
 *   `InvalidRequestError`;
 * - the HTML embed example starts the widget from those files and answers.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertChromium, CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/chromium.ts';
import { startStaticServer, type StaticServer } from '../e2e/portal-server.ts';
import { fillPlaceholders, readmeExample } from '../src/testing/readme-examples.ts';
import { testModelPath } from '../src/testing/test-models.ts';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let tmp: string;
let app: string;
let pkgDir: string;
let modelDir: string;
let sha256: string;
let browser: Browser;
const servers: StaticServer[] = [];

async function serve(mounts: { prefix: string; dir: string }[]): Promise<StaticServer> {
  const s = await startStaticServer({ mounts });
  servers.push(s);
  return s;
}

/** Runs `code` (an ES module) in a fresh page, as the README example's `output` element sees it. */
function plainPage(code: string, importMap: string): string {
  return `<!doctype html>
<html lang="ko">
  <head>
    <meta charset="utf-8" />
    ${importMap}
    <script>
      // Test probe (not README's): what the module threw, if anything.
      window.addEventListener('error', (e) => {
        document.body.dataset.error = (e.error && e.error.name) + ':' + (e.error && e.error.code) + ':' + e.message;
      });
    </script>
  </head>
  <body>
    <output id="output"></output>
    <script type="module">
${code}
document.body.dataset.done = 'yes';
    </script>
  </body>
</html>
`;
}

/** Waits until README's createDure example has finished; returns what it wrote to `output`. */
async function streamedAnswer(page: Page): Promise<string> {
  await page.waitForFunction(() => document.body.dataset['done'] || document.body.dataset['error'], null, {
    timeout: 90_000,
  });
  expect(await page.evaluate(() => document.body.dataset['error'] ?? null)).toBeNull();
  return page.locator('#output').innerText();
}

const sdkExample = (model: string, hash?: string) =>
  fillPlaceholders(readmeExample('sdk'), {
    model,
    ...(hash ? { sha256String: `'${hash}'` } : {}),
  });

beforeAll(async () => {
  assertChromium();
  tmp = await mkdtemp(join(tmpdir(), 'dure-readme-'));
  // The package, as README's `npm run pack:sdk` builds and packs it (here into the test's folder).
  const { stdout } = await run(
    NPM,
    ['run', 'pack:sdk', '--', '--out', join(tmp, 'dist-sdk'), '--pack-destination', tmp],
    { cwd: ROOT },
  );
  const tarball = /^packed: (.+\.tgz)$/m.exec(stdout)?.[1];
  expect(tarball).toBe(join(tmp, 'dure-0.1.0.tgz'));
  // A new project that installs the tarball with no network.
  app = join(tmp, 'app');
  await mkdir(app);
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'portal-app', private: true, type: 'module' }, null, 2),
  );
  await run(NPM, ['install', tarball!, '--offline', '--no-audit', '--no-fund'], { cwd: app });
  pkgDir = join(app, 'node_modules', 'dure');
  // The model the examples load.
  const modelPath = await testModelPath({ arch: 'llama', quant: 'Q8_0', tokenizer: 'corpus-bpe' });
  modelDir = join(tmp, 'models');
  await mkdir(modelDir);
  await copyFile(modelPath, join(modelDir, 'model.gguf'));
  sha256 = createHash('sha256')
    .update(await readFile(modelPath))
    .digest('hex');
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => s.close()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("README's SDK and embed examples", () => {
  it('the packed package installs offline, typed: a TypeScript file using it checks', async () => {
    const pkg = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as {
      name: string;
      exports: Record<string, unknown>;
      dependencies?: unknown;
    };
    expect(pkg.name).toBe('dure');
    expect(pkg.dependencies).toBeUndefined();
    expect(Object.keys(pkg.exports)).toEqual(['.', './dure-chat.js', './sw.js', './package.json']);
    await writeFile(
      join(app, 'check.ts'),
      `import { createDure, DureError, InvalidRequestError, type ChatCompletionChunk, type Dure } from 'dure';

const el = document.querySelector('dure-chat');
el?.addEventListener('dure-ready', (e) => {
  const backend: 'webgpu' | 'wasm-cpu' = e.detail.backend;
  console.log(backend, e.detail.fromCache);
});
export async function answer(): Promise<string> {
  const dure: Dure = await createDure({ model: '/models/model.gguf', sha256: '${'0'.repeat(64)}' });
  const stream = await dure.chat.completions.create({ messages: [{ role: 'user', content: '안녕' }], stream: true });
  for await (const chunk of stream) {
    const c: ChatCompletionChunk = chunk;
    console.log(c.choices[0]?.delta.content);
  }
  const done = await dure.chat.completions.create({ messages: [{ role: 'user', content: '안녕' }] });
  await el?.ask('안녕하세요');
  return done.choices[0]?.message.content ?? '';
}
export function isBadOption(e: unknown): boolean {
  return e instanceof InvalidRequestError && e instanceof DureError && e.code === 'INVALID_REQUEST';
}
// @ts-expect-error the model is required
void createDure({ sha256: '' });
`,
    );
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          lib: ['ES2022', 'DOM', 'DOM.Iterable'],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['check.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const out = await run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], { cwd: app }).catch(
      (e: { stdout: string }) => ({ stdout: e.stdout }),
    );
    expect(out.stdout).toBe('');
  }, 60_000);

  it('createDure example: a Vite project built from the tarball streams the answer in Chromium', async () => {
    await writeFile(
      join(app, 'index.html'),
      `<!doctype html>
<html lang="ko">
  <body>
    <output id="output"></output>
    <script type="module" src="./main.js"></script>
  </body>
</html>
`,
    );
    await writeFile(
      join(app, 'main.js'),
      `${sdkExample('/models/model.gguf', sha256)}\ndocument.body.dataset.done = 'yes';\n`,
    );
    const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    await run(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: app });
    const server = await serve([
      { prefix: '/', dir: join(app, 'dist') },
      { prefix: '/models/', dir: modelDir },
    ]);
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.origin}/`);
    expect(await streamedAnswer(page)).not.toBe('');
    expect(errors).toEqual([]);
    // Everything came from the app's own build: its workers and wasm were copied along.
    expect(server.requests.filter((r) => r.status >= 400 && r.path !== '/favicon.ico')).toEqual([]);
    await context.close();
  }, 150_000);

  it("createDure example: a plain page with README's import map runs it against the package's files", async () => {
    const pages = join(tmp, 'pages');
    await mkdir(pages, { recursive: true });
    await writeFile(
      join(pages, 'sdk.html'),
      plainPage(sdkExample('/models/model.gguf', sha256), readmeExample('importmap')),
    );
    const site = await serve([
      { prefix: '/dure/', dir: pkgDir },
      { prefix: '/models/', dir: modelDir },
      { prefix: '/', dir: pages },
    ]);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${site.origin}/sdk.html`);
    expect(await streamedAnswer(page)).not.toBe('');
    expect(site.requests.filter((r) => r.status >= 400 && r.path !== '/favicon.ico')).toEqual([]);
    await context.close();
  }, 120_000);

  it("the '…' placeholder left in is refused with InvalidRequestError before any download", async () => {
    const pages = join(tmp, 'placeholder');
    await mkdir(pages, { recursive: true });
    await writeFile(
      join(pages, 'sdk.html'),
      plainPage(sdkExample('/models/model.gguf'), readmeExample('importmap')),
    );
    const site = await serve([
      { prefix: '/dure/', dir: pkgDir },
      { prefix: '/models/', dir: modelDir },
      { prefix: '/', dir: pages },
    ]);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${site.origin}/sdk.html`);
    await page.waitForFunction(() => document.body.dataset['error'], null, { timeout: 30_000 });
    const error = await page.evaluate(() => document.body.dataset['error']);
    expect(error).toMatch(/^InvalidRequestError:INVALID_REQUEST:.*sha256 must be the model file's SHA-256/);
    expect(site.requests.filter((r) => r.path.includes('.gguf'))).toEqual([]);
    await context.close();
  }, 60_000);

  it("HTML embed example: the widget starts from the package's files and answers", async () => {
    const pages = join(tmp, 'portal');
    await mkdir(join(pages, 'minwon'), { recursive: true });
    const site = await serve([
      { prefix: '/dure/', dir: pkgDir },
      { prefix: '/models/', dir: modelDir },
      { prefix: '/minwon/', dir: join(pages, 'minwon') },
    ]);
    const embed = fillPlaceholders(readmeExample('embed'), {
      origin: site.origin,
      model: '/models/model.gguf',
      sha256Attribute: sha256,
    });
    await writeFile(
      join(pages, 'minwon', 'index.html'),
      `<!doctype html>\n<html lang="ko">\n  <head><meta charset="utf-8" /></head>\n  <body>\n${embed}\n  </body>\n</html>\n`,
    );
    await writeFile(join(pages, 'minwon', 'sw.js'), readmeExample('portal-sw'));
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${site.origin}/minwon/`);
    const widget = page.locator('dure-chat');
    await widget.getByRole('button', { name: 'AI 상담 열기' }).click();
    await widget.getByRole('button', { name: /AI 상담 시작/ }).click();
    await expect
      .poll(() => widget.locator('.root').getAttribute('data-phase'), { timeout: 90_000 })
      .toMatch(/ready|error/);
    expect(await widget.locator('.error').count()).toBe(0);
    await widget.evaluate((el) => el.setAttribute('max-tokens', '12'));
    const box = widget.getByRole('textbox');
    await box.fill('전입신고는 어디에서 하나요?');
    await box.press('Enter');
    const answer = widget.locator('article[data-role=assistant]').first();
    await expect
      .poll(() => answer.getAttribute('data-finish'), { timeout: 90_000 })
      .toMatch(/^(eos|length|stop)$/);
    expect((await answer.innerText()).length).toBeGreaterThan(0);
    expect(site.requests.filter((r) => r.status >= 400 && r.path !== '/favicon.ico')).toEqual([]);
    await context.close();
  }, 150_000);
});
