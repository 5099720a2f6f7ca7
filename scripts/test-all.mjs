#!/usr/bin/env node
// `npm test`: every check, as fast as a small machine allows. The three single-threaded steps
// (type checks, lint, the build the end-to-end tests serve) run side by side, each one's output
// printed whole when it ends; then the unit suite; then the end-to-end suite on that build.
// Stops at the first failing stage and exits non-zero, naming what failed.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';

const OUT_DIR = process.env['DURE_E2E_OUTDIR'] ?? 'dist';

/** Runs `npm run <script>` (or a command), collecting output when `quiet`, else streaming it. */
function run(label, cmd, args, { quiet = false, env = {} } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, {
      stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: { ...process.env, ...env },
    });
    const chunks = [];
    child.stdout?.on('data', (c) => chunks.push(c));
    child.stderr?.on('data', (c) => chunks.push(c));
    child.on('close', (code, signal) => {
      const ok = code === 0 && !signal;
      const secs = Math.round((Date.now() - started) / 1000);
      if (quiet) process.stdout.write(`\n[test] ── ${label} ──\n${Buffer.concat(chunks).toString()}`);
      console.log(`[test] ${label}: ${ok ? 'passed' : `FAILED (${signal ?? `exit ${code}`})`} in ${secs} s`);
      resolve(ok);
    });
  });
}

async function stage(steps) {
  const results = await Promise.all(steps.map((s) => run(...s)));
  const failed = steps.filter((_, i) => !results[i]).map((s) => s[0]);
  if (failed.length) {
    console.error(`[test] failed: ${failed.join(', ')}`);
    process.exit(1);
  }
}

await stage([
  ['typecheck', 'npm', ['run', '-s', 'typecheck'], { quiet: true }],
  ['lint', 'npm', ['run', '-s', 'lint'], { quiet: true }],
  ['build for e2e', 'npx', ['vite', 'build', '--outDir', OUT_DIR, '--logLevel', 'warn'], { quiet: true }],
]);
await stage([['unit tests', 'npm', ['run', '-s', 'test:unit']]]);
// The build above is served as it is (playwright.config.ts skips its own build).
await stage([['e2e tests', 'npm', ['run', '-s', 'test:e2e'], { env: { DURE_E2E_PREBUILT: '1' } }]]);
