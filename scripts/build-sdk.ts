/**
 * Builds the installable package `dure` (the SDK and the `<dure-chat>` element) into a folder of its
 * own; the repository's own package stays the app.
 *
 *   npm run build:sdk [-- --out DIR]                          # DIR: dist-sdk/ unless named
 *   npm run pack:sdk [-- --out DIR --pack-destination DEST]   # then `npm pack`: DEST/dure-<version>.tgz
 *
 * The folder holds ESM JavaScript built by vite.sdk.config.ts (`dure-chat.js`, `assets/` with its
 * chunks, workers and wasm, `sw.js`), type declarations emitted by TypeScript from the same sources
 * (`types/`), and a package.json with typed exports. It has no dependencies: everything it runs is in
 * the folder, so a bundler copies it along and a page without one can serve the folder as is.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseCliArgs } from '../src/cli/args.ts';
import ts from 'typescript';
import { build } from 'vite';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = 'src/widget/embed.ts';

/** Declarations of `ENTRY` and everything it names, with `.js` specifiers, under `out/types/`. */
async function emitTypes(out: string): Promise<string> {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error('tsconfig.json could not be read');
  const tmp = await mkdtemp(join(tmpdir(), 'dure-types-'));
  try {
    const program = ts.createProgram([join(ROOT, ENTRY)], {
      ...parsed.options,
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      outDir: tmp,
      rootDir: ROOT,
    });
    // Type errors are `npm run typecheck`'s to report; here only what stops declarations.
    const diagnostics = program.emit().diagnostics;
    if (diagnostics.length)
      throw new Error(
        ts.formatDiagnostics(diagnostics, {
          getCanonicalFileName: (f) => f,
          getCurrentDirectory: () => ROOT,
          getNewLine: () => '\n',
        }),
      );
    // Keep only what the entry reaches; rewrite `./x.ts` to `./x.js` (resolved to `./x.d.ts` by the
    // consumer's TypeScript) and drop the component import, a side effect with no types.
    const specifier = /((?:from|import)\s*\(?\s*')(\.{1,2}\/[^']+?)\.ts(')/g;
    const queue = [ENTRY.replace(/\.ts$/, '.d.ts')];
    const seen = new Set<string>();
    while (queue.length) {
      const rel = queue.pop()!;
      if (seen.has(rel)) continue;
      seen.add(rel);
      let text = await readFile(join(tmp, rel), 'utf8');
      text = text.replace(/^import '\.\/DureChat\.svelte';\n/m, '');
      for (const m of text.matchAll(specifier))
        queue.push(relative(tmp, resolve(tmp, dirname(rel), `${m[2]}.d.ts`)));
      await mkdir(dirname(join(out, 'types', rel)), { recursive: true });
      // WebGPU's types (GPU, GPUDevice…) are a dev dependency here, not the consumer's: the few
      // internal signatures that name them (the probe's) read `unknown` in the package.
      text = text.replace(/([:|<(]\s*)GPU[A-Za-z]*\b/g, '$1unknown');
      await writeFile(join(out, 'types', rel), text.replace(specifier, '$1$2.js$3'));
    }
    return `./types/${ENTRY.replace(/\.ts$/, '.d.ts')}`;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const PACKAGE_README = `# dure

Dure's SDK and chat widget: a small GGUF language model that runs in the visitor's browser
(WebGPU, or the CPU through WebAssembly); nothing typed leaves the device.

\`\`\`js
import { createDure } from 'dure'; // also defines the <dure-chat> element
const dure = await createDure({ model: '/models/model.gguf', sha256: '<hex SHA-256 of model.gguf>' });
const reply = await dure.chat.completions.create({ messages: [{ role: 'user', content: '안녕하세요' }] });
\`\`\`

Without a bundler, serve this folder (\`dure-chat.js\`, \`sw.js\`, \`assets/\`) from your site and load
\`dure-chat.js\` with \`<script type="module">\`. Documentation: the Dure repository's README
("Embedding the chat widget", "No UI? OpenAI-style API").
`;

/** Builds the package into `out` (emptied first); returns its package.json. */
export async function buildSdk(out = join(ROOT, 'dist-sdk')): Promise<Record<string, unknown>> {
  out = resolve(out);
  await rm(out, { recursive: true, force: true });
  await build({
    configFile: join(ROOT, 'vite.sdk.config.ts'),
    root: ROOT,
    logLevel: 'warn',
    build: { outDir: out, emptyOutDir: true },
  });
  const types = await emitTypes(out);
  const app = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Record<string, string>;
  const pkg = {
    name: 'dure',
    version: app['version'],
    description: app['description'],
    license: app['license'],
    type: 'module',
    main: './dure-chat.js',
    types,
    exports: {
      '.': { types, default: './dure-chat.js' },
      './dure-chat.js': { types, default: './dure-chat.js' },
      './sw.js': './sw.js',
      './package.json': './package.json',
    },
    files: ['dure-chat.js', 'sw.js', 'assets/', 'types/', 'README.md'],
    // Importing the package defines <dure-chat>.
    sideEffects: true,
  };
  await writeFile(join(out, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  await writeFile(join(out, 'README.md'), PACKAGE_README);
  return pkg;
}

/** Packs the built folder with `npm pack`; returns the tarball's path. */
export async function packSdk(dir: string, destination = process.cwd()): Promise<string> {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const { stdout } = await promisify(execFile)(
    npm,
    ['pack', resolve(dir), '--pack-destination', resolve(destination), '--json', '--offline'],
    { cwd: resolve(destination) },
  );
  const [packed] = JSON.parse(stdout) as { filename: string }[];
  return join(resolve(destination), packed!.filename);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseCliArgs({
    options: {
      out: { type: 'string', default: join(ROOT, 'dist-sdk') },
      pack: { type: 'boolean', default: false },
      'pack-destination': { type: 'string', default: process.cwd() },
    },
  });
  const out = resolve(values.out);
  await buildSdk(out);
  console.log(`dure package written to ${relative(process.cwd(), out) || '.'}`);
  if (values.pack) console.log(`packed: ${await packSdk(out, values['pack-destination'])}`);
}
