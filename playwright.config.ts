import { defineConfig } from '@playwright/test';
import { assertChromium, CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/chromium.ts';

assertChromium();
const PORT = Number(process.env['DURE_E2E_PORT'] ?? 4173);
// Several runs on one machine (parallel work) each build into their own folder.
const OUT_DIR = process.env['DURE_E2E_OUTDIR'] ?? 'dist';

export default defineConfig({
  testDir: 'e2e',
  timeout: 120_000,
  workers: 1,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://localhost:${PORT}`,
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
  },
  webServer: {
    // `npm test` builds while the type checks and lint run, and says so with DURE_E2E_PREBUILT.
    command: `${process.env['DURE_E2E_PREBUILT'] ? '' : `npx vite build --outDir ${OUT_DIR} && `}npx vite preview --outDir ${OUT_DIR} --port ${PORT} --strictPort`,
    url: `http://localhost:${PORT}`,
    reuseExistingServer: !process.env['CI'],
    timeout: 120_000,
  },
});
