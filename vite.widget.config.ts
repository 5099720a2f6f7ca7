/**
 * Build settings for the `<dure-chat>` embed, kept beside vite.config.ts, which imports them.
 * - Only the tagged entry component compiles as a custom element (ordinary components stay
 *   ordinary); every widget component injects its CSS so it lands inside the shadow root.
 * - The embed entry is emitted as a stable `dure-chat.js` so a portal links it with no build step,
 *   with Dure's service worker `sw.js` beside it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const widgetDir = resolve(import.meta.dirname, 'src/widget') + '/';

export function widgetCompileOptions({ filename }: { filename: string }): {
  customElement?: boolean;
  css?: 'injected';
} | void {
  if (!filename.startsWith(widgetDir)) return;
  if (filename.endsWith('/DureChat.svelte')) return { customElement: true, css: 'injected' };
  return { css: 'injected' };
}

export const widgetInput = { 'dure-chat': resolve(import.meta.dirname, 'src/widget/embed.ts') };

export function entryFileNames(chunk: { name: string }): string {
  return chunk.name === 'dure-chat' ? 'dure-chat.js' : 'assets/[name]-[hash].js';
}

const SW_SOURCE = resolve(import.meta.dirname, 'src/widget/service-worker.js');

export interface BundleFile {
  type: 'chunk' | 'asset';
  fileName: string;
  code?: string;
  source?: string | Uint8Array;
  imports?: string[];
  dynamicImports?: string[];
  isEntry?: boolean;
  name?: string;
}

/**
 * What the widget needs on every visit: `dure-chat.js`, the chunks it imports (statically or
 * lazily) and the workers they start. Not the CPU path's wasm (kept by the service worker only once
 * that path ran), not the training worker (spawn.ts names it beside the others; the widget never
 * trains), not other pages' code.
 */
export function widgetFiles(bundle: Record<string, BundleFile>): string[] {
  const entry = Object.values(bundle).find((f) => f.type === 'chunk' && f.isEntry && f.name === 'dure-chat');
  if (!entry) return [];
  const chunks = new Set<string>();
  const visit = (name: string) => {
    const f = bundle[name];
    if (!f || f.type !== 'chunk' || chunks.has(name)) return;
    chunks.add(name);
    for (const i of [...(f.imports ?? []), ...(f.dynamicImports ?? [])]) visit(i);
  };
  visit(entry.fileName);
  const code = [...chunks].map((c) => bundle[c]?.code ?? '').join('\n');
  const workers = Object.values(bundle)
    .filter((f) => f.type === 'asset' && /\.worker-[\w-]+\.js$/.test(f.fileName))
    .filter((f) => !f.fileName.split('/').pop()!.startsWith('training.worker'))
    .filter((f) => code.includes(f.fileName.split('/').pop()!))
    .map((f) => f.fileName);
  return [...chunks, ...workers].sort();
}

/** `public/`-style files never listed as Dure's: pages, source maps, models. */
const NOT_DURE = /\.(html|map|gguf)$/;

/**
 * Emits `sw.js` (Dure's service worker, src/widget/service-worker.js) beside `dure-chat.js`, with
 * this build's file lists written in: every file of the build (the only requests it answers) and
 * the widget's own files (kept at install). Its cache is named after a hash of the build, so a new
 * build replaces the old files instead of piling up.
 */
export function dureServiceWorker(): {
  name: string;
  generateBundle: {
    order: 'post';
    handler(
      this: { emitFile(f: { type: 'asset'; fileName: string; source: string }): void },
      o: unknown,
      bundle: Record<string, BundleFile>,
    ): void;
  };
} {
  return {
    name: 'dure-service-worker',
    generateBundle: {
      order: 'post',
      handler(_o, bundle) {
        const files = Object.keys(bundle)
          .filter((f) => !NOT_DURE.test(f) && f !== 'sw.js')
          .sort();
        const hash = createHash('sha256');
        for (const f of files) {
          const b = bundle[f]!;
          hash.update(f).update(b.type === 'chunk' ? (b.code ?? '') : (b.source ?? ''));
        }
        const fill: [RegExp, string][] = [
          [/^const BUILD = 'dev';$/m, `const BUILD = '${hash.digest('hex').slice(0, 16)}';`],
          [/^const FILES = \[\];$/m, `const FILES = ${JSON.stringify(files)};`],
          [/^const INSTALL = \[\];$/m, `const INSTALL = ${JSON.stringify(widgetFiles(bundle))};`],
        ];
        let source = readFileSync(SW_SOURCE, 'utf8');
        for (const [pattern, value] of fill) {
          if (!pattern.test(source)) throw new Error(`${SW_SOURCE}: no line matching ${pattern}`);
          source = source.replace(pattern, value);
        }
        this.emitFile({ type: 'asset', fileName: 'sw.js', source });
      },
    },
  };
}
