/**
 * Build settings for the `<dure-chat>` embed, kept beside vite.config.ts, which imports them.
 * - Only the tagged entry component compiles as a custom element (ordinary components stay
 *   ordinary); every widget component injects its CSS so it lands inside the shadow root.
 * - The embed entry is emitted as a stable `/dure-chat.js` so a portal links it with no build step.
 */
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

/**
 * Emits `precache-manifest.json`: every file of the build, so the service worker (public/sw.js)
 * can cache the whole app shell, hashed chunks and the wasm included, on its first install.
 */
export function precacheManifest(): {
  name: string;
  generateBundle(
    this: { emitFile(f: { type: 'asset'; fileName: string; source: string }): void },
    o: unknown,
    bundle: Record<string, unknown>,
  ): void;
} {
  return {
    name: 'dure-precache-manifest',
    generateBundle(_o, bundle) {
      const files = Object.keys(bundle)
        .filter((f) => !f.endsWith('.map'))
        .map((f) => `/${f}`)
        .sort();
      this.emitFile({ type: 'asset', fileName: 'precache-manifest.json', source: JSON.stringify({ files }) });
    },
  };
}
