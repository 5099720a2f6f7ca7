/**
 * `npm run pack:offline`: one archive for a separated network (행정망/업무망) that unpacks and
 * starts with no registry and no outbound connection:
 *
 *   dure-offline/
 *     server/dure-server.mjs   the federated server and its operator CLI, bundled (esbuild)
 *     node_modules/            exactly the packages the bundle imports, and theirs (production only)
 *     web/                     the Vite build: the PWA, the admin dashboard and the widget (dure-chat.js)
 *     start.sh                 starts the server (data in ./data unless DURE_DATA_DIR says otherwise)
 *     package.json, README-OFFLINE.md
 *
 * Only Node.js (>= 20) must already be on the machine. Options:
 *   --out FILE      where the .tar.gz goes (default .dure-pack/dure-offline-<version>.tar.gz)
 *   --reuse-dist    use an existing dist/ (with admin.html) instead of running `vite build`
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** The package a bare import names (`@scope/name/sub` → `@scope/name`), or null for node builtins. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('node:') || specifier.startsWith('.') || specifier.startsWith('/')) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Finds `name` as Node would from `fromDir` (a package folder): the nearest node_modules up. */
function locate(name: string, fromDir: string): string | null {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === ROOT || dirname(dir) === dir) return null;
  }
}

/**
 * Every installed package folder `roots` need at run time (dependencies, and optional and peer
 * ones that are installed), as paths relative to the repository, so nesting is kept.
 */
export function dependencyClosure(roots: Iterable<string>): string[] {
  const seen = new Set<string>();
  const queue: Array<[string, string]> = [...roots].map((n) => [n, ROOT]);
  while (queue.length) {
    const [name, from] = queue.shift()!;
    const dir = locate(name, from);
    if (!dir) {
      // A missing optional or peer dependency is fine; a missing root is not.
      if (from === ROOT) throw new Error(`package ${name} is imported by the server but not installed`);
      continue;
    }
    const rel = relative(ROOT, dir);
    if (seen.has(rel)) continue;
    seen.add(rel);
    const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
    for (const d of Object.keys({ ...p.dependencies, ...p.optionalDependencies, ...p.peerDependencies }))
      queue.push([d, dir]);
  }
  return [...seen].sort();
}

const START_SH = `#!/bin/sh
# Starts the Dure federated server from this unpacked folder; nothing is downloaded.
# Settings are environment variables (README-OFFLINE.md; the full list is in the main README).
set -e
here=$(cd "$(dirname "$0")" && pwd)
export DURE_DATA_DIR="\${DURE_DATA_DIR:-$here/data}"
export DURE_DASHBOARD_DIR="\${DURE_DASHBOARD_DIR:-$here/web}"
export DURE_MODELS_DIR="\${DURE_MODELS_DIR:-$here/web/models}"
[ $# -gt 0 ] || set -- serve
exec node "$here/server/dure-server.mjs" "$@"
`;

const README = `# Dure 오프라인 배포본 / offline bundle (v${pkg.version})

필요한 것 / needs: Node.js 20 이상 (Node.js >= 20). 인터넷·패키지 저장소 접속은 필요 없습니다.

    tar xzf dure-offline-${pkg.version}.tar.gz
    cd dure-offline
    DURE_ADMIN_TOKEN=... PORT=8787 ./start.sh            # 서버 시작 / start the server
    ./start.sh audit verify                              # 감사 로그 검증 / verify the audit log

- 관리 화면 / dashboard: https://<server>/admin
- web/ 폴더는 포털(위젯)과 PWA 정적 파일입니다. 기관 포털의 웹 서버에 올리세요.
  web/ holds the widget (dure-chat.js) and the PWA: serve it from the portal's web server.
- 배포 구성·방화벽·TLS는 본 저장소 README의 "분리망 배포" 절을 보세요.
  Ports, TLS and firewall rules: the main README, "Deploying on a separated network".
`;

async function main(args: string[]): Promise<void> {
  const outArg = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
  const out = resolve(outArg ?? join(ROOT, '.dure-pack', `dure-offline-${pkg.version}.tar.gz`));
  const dist = join(ROOT, 'dist');
  if (!(args.includes('--reuse-dist') && existsSync(join(dist, 'admin.html')))) {
    console.log('[pack:offline] vite build');
    execFileSync('npx', ['vite', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  if (!existsSync(join(dist, 'admin.html')) || !existsSync(join(dist, 'dure-chat.js')))
    throw new Error('dist/ lacks admin.html or dure-chat.js: the web build failed');

  const stage = mkdtempSync(join(tmpdir(), 'dure-pack-'));
  try {
    const app = join(stage, 'dure-offline');
    mkdirSync(join(app, 'server'), { recursive: true });
    console.log('[pack:offline] bundling the server');
    const result = await build({
      stdin: {
        contents:
          "import { main } from './federated-server/src/cli.ts';\nprocess.exitCode = await main(process.argv.slice(2));\n",
        resolveDir: ROOT,
        sourcefile: 'dure-server-entry.ts',
        loader: 'ts',
      },
      outfile: join(app, 'server', 'dure-server.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external', // shipped as node_modules/ below, so wasm and data files stay beside their code
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'warning',
    });
    const imported = new Set<string>();
    for (const output of Object.values(result.metafile.outputs))
      for (const imp of output.imports)
        if (imp.external) {
          const name = packageOf(imp.path);
          if (name) imported.add(name);
        }
    const closure = dependencyClosure(imported);
    console.log(
      `[pack:offline] ${imported.size} packages imported, ${closure.length} with their dependencies`,
    );
    for (const rel of closure) {
      const src = realpathSync(join(ROOT, rel));
      cpSync(src, join(app, rel), {
        recursive: true,
        dereference: true,
        // Nested node_modules are copied as packages of their own, only when needed.
        filter: (f) => !relative(src, f).split('/').includes('node_modules'),
      });
    }
    cpSync(dist, join(app, 'web'), { recursive: true, dereference: true });
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify(
        {
          name: 'dure-offline',
          version: pkg.version,
          private: true,
          type: 'module',
          engines: { node: '>=20' },
        },
        null,
        2,
      ) + '\n',
    );
    writeFileSync(join(app, 'start.sh'), START_SH, { mode: 0o755 });
    writeFileSync(join(app, 'README-OFFLINE.md'), README);
    mkdirSync(dirname(out), { recursive: true });
    execFileSync('tar', ['-czf', out, '-C', stage, 'dure-offline']);
    console.log(`[pack:offline] ${out}`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
