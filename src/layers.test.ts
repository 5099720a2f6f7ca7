/**
 * The layer rule, checked on the real import graph: a product file imports only its own layer or
 * lower ones (type imports included), the server reaches client code only through src/protocol,
 * and no product file imports tests, test helpers, scripts or benchmarks. A violation names
 * the file, the import and both layers, so the fix is obvious.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

/** Bottom first; a file may import from its own rank or a lower one. */
const LAYERS: { rank: number; name: string; prefixes: string[] }[] = [
  // WGSL sources are data the engine and trainer load, below everything that imports them.
  { rank: -1, name: 'wgsl', prefixes: ['wgsl/'] },
  { rank: 0, name: 'protocol', prefixes: ['src/protocol/'] },
  { rank: 1, name: 'engine', prefixes: ['src/engine/', 'src/safety/'] },
  {
    rank: 2,
    name: 'training/model-manager/node/tools',
    // src/tools: GGUF writing and quantizing, used by the CLI's converters, scripts and tests.
    prefixes: ['src/training/', 'src/model-manager/', 'src/node/', 'src/tools/'],
  },
  // The round client, and the platform-neutral grounded-answer parts (issue 17): the portal's
  // knowledge base and retrieval, the harm and jailbreak guard, and the answer pipeline over both
  // (src/answer: guard → retrieve → prompt → check → cite, shared by the widget, SDK and CLI), and
  // citizens' feedback on answers (src/feedback: record, export file, curation into training data).
  {
    rank: 3,
    name: 'fl/knowledge/guard/answer/feedback',
    prefixes: ['src/fl/', 'src/knowledge/', 'src/guard/', 'src/answer/', 'src/feedback/'],
  },
  { rank: 4, name: 'workers', prefixes: ['workers/'] },
  {
    rank: 5,
    name: 'ui/cli',
    prefixes: ['src/widget/', 'src/console/', 'src/sdk/', 'src/admin/', 'src/app/', 'src/cli/', 'src/ui/'],
  },
];
const SERVER = 'federated-server/';
/** Never imported by product code. */
const NOT_PRODUCT = ['src/testing/', 'scripts/', 'bench/', 'e2e/'];

const isTest = (file: string) => /\.(test|spec)\.ts$/.test(file);

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (/\.(ts|mts|svelte)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every module specifier a file names: static, re-export, type-only, dynamic and worker URLs. */
export function importSpecifiers(source: string): string[] {
  const specs = new Set<string>();
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /new\s+URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) specs.add(m[1]!);
  return [...specs];
}

function layerOf(rel: string) {
  return LAYERS.find((l) => l.prefixes.some((p) => rel.startsWith(p)));
}

export function violations(): string[] {
  const files = [
    ...walk(join(ROOT, 'src')),
    ...walk(join(ROOT, 'workers')),
    ...walk(join(ROOT, SERVER, 'src')),
  ];
  const found: string[] = [];
  for (const abs of files) {
    const from = relative(ROOT, abs).split(sep).join('/');
    if (isTest(from) || NOT_PRODUCT.some((p) => from.startsWith(p))) continue;
    if (from.startsWith(`${SERVER}src/testing/`)) continue;
    for (const spec of importSpecifiers(readFileSync(abs, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // packages are not layers
      const to = relative(ROOT, resolve(dirname(abs), spec.replace(/\?.*$/, '')))
        .split(sep)
        .join('/');
      const say = (why: string) => found.push(`${from} imports ${spec}: ${why}`);
      if (isTest(to)) say('a product file imports a test');
      else if (NOT_PRODUCT.some((p) => to.startsWith(p)))
        say(`product code imports ${to.split('/').slice(0, 2).join('/')}`);
      else if (from.startsWith(SERVER)) {
        if (!to.startsWith(SERVER) && !to.startsWith('src/protocol/'))
          say('the server reaches client code only through src/protocol');
      } else if (to.startsWith(SERVER)) say('client code imports the server');
      else {
        const a = layerOf(from);
        const b = layerOf(to);
        if (!a) say(`${from} is in no layer (add it to LAYERS)`);
        else if (!b) say(`${to} is in no layer`);
        else if (b.rank > a.rank)
          say(`layer ${a.name} (${a.rank}) imports upward into ${b.name} (${b.rank})`);
        else if (a.rank === 1) {
          // engine and safety share a rank but are independent of each other
          const aTop = a.prefixes.find((p) => from.startsWith(p));
          const bTop = b.prefixes.find((p) => to.startsWith(p));
          if (b.rank === 1 && aTop !== bTop)
            say(`${aTop} and ${bTop} are side by side and do not import each other`);
        }
      }
    }
  }
  return found;
}

describe('layers', () => {
  it('recognises every kind of import', () => {
    const src = [
      "import { a } from './a.ts';",
      "import type { B } from '../b.ts';",
      "export { c } from './c.ts';",
      "export * from './d.ts';",
      "import './e.ts';",
      "const f = await import('./f.ts');",
      "new Worker(new URL('../workers/g.worker.ts', import.meta.url), { type: 'module' });",
      "import {\n  h,\n  i,\n} from './h.ts';",
    ].join('\n');
    expect(importSpecifiers(src).sort()).toEqual(
      [
        './a.ts',
        '../b.ts',
        './c.ts',
        './d.ts',
        './e.ts',
        './f.ts',
        '../workers/g.worker.ts',
        './h.ts',
      ].sort(),
    );
  });

  it('no product file imports upward, sideways into the server, or into tests and tools', () => {
    expect(violations()).toEqual([]);
  });
});
