/**
 * The installable package's build (`npm run build:sdk`, scripts/build-sdk.ts): the widget alone,
 * `dure-chat.js` (the SDK and the `<dure-chat>` element) with its chunks, workers, the CPU path's
 * wasm and Dure's service worker `sw.js`, all addressed relative to `dure-chat.js`. No pages, no
 * `public/` (the demo model stays out).
 */
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';
import {
  dureServiceWorker,
  entryFileNames,
  widgetCompileOptions,
  widgetInput,
} from './vite.widget.config.ts';

export default defineConfig({
  base: './',
  publicDir: false,
  plugins: [svelte({ dynamicCompileOptions: widgetCompileOptions }), dureServiceWorker()],
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    outDir: 'dist-sdk',
    emptyOutDir: true,
    // A bundler that imports the package re-bundles these chunks: no preload list pointing at them.
    modulePreload: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      input: widgetInput,
      output: { entryFileNames },
      preserveEntrySignatures: 'exports-only',
      // No timing report on every build (rolldown prints one when plugins take a while).
      checks: { bundlerTimings: false },
    },
  },
});
