import { svelte } from '@sveltejs/vite-plugin-svelte';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import {
  dureServiceWorker,
  entryFileNames,
  widgetCompileOptions,
  widgetInput,
} from './vite.widget.config.ts';
import { sampleDatasets } from './scripts/sample-datasets.ts';

export default defineConfig({
  // Relative URLs throughout the build: every chunk, worker and wasm resolves against the URL of
  // the file that names it, so the same dist/ works at a web root, under a sub-path (`/dure/`) or
  // on another origin than the portal page that loads `dure-chat.js`.
  base: './',
  plugins: [svelte({ dynamicCompileOptions: widgetCompileOptions }), dureServiceWorker(), sampleDatasets()],
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    rollupOptions: {
      input: {
        main: resolve(import.meta.dirname, 'index.html'),
        diagnostics: resolve(import.meta.dirname, 'diagnostics.html'),
        admin: resolve(import.meta.dirname, 'admin.html'),
        playground: resolve(import.meta.dirname, 'playground.html'),
        console: resolve(import.meta.dirname, 'console.html'),
        ...widgetInput,
      },
      output: { entryFileNames },
      // Keep the embed's exports (`import { createDure } from '/dure-chat.js'`).
      preserveEntrySignatures: 'exports-only',
    },
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
