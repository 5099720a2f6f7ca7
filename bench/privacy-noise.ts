/**
 * How long one client's Skellam noise share takes for a LoRA-sized update (d = 1e6):
 *   node --import ./scripts/register-ts.mjs bench/privacy-noise.ts [--browser]
 * Prints ms per 1e6 coordinates in Node for local variances across the range a plan produces
 * (local variance < 40, i.e. Poisson means < 20, takes the inversion path, the rest PTRS), plus the raw cost of the random bytes alone;
 * with --browser, the same library bundled by esbuild and timed inside Debian's Chromium.
 */
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, assertChromium } from '../e2e/chromium.ts';
import { addSkellamModular, planSkellam } from '../src/protocol/privacy/index.ts';

const D = 1_000_000;
const REPS = 3;

function timeIt(fn: () => void): number {
  fn(); // warm-up (JIT)
  const t: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  return t.sort((a, b) => a - b)[Math.floor(REPS / 2)]!;
}

const rows: Record<string, number> = {};
const buf = new Uint32Array(D);
rows['getRandomValues only (4 words/coordinate)'] = timeIt(() => {
  const w = new Uint32Array(16_384);
  for (let i = 0; i < (4 * D) / w.length; i++) crypto.getRandomValues(w);
});
for (const variance of [2, 39, 41, 1e4, 1e8, 1e12]) {
  rows[`Skellam share, local variance ${variance}`] = timeIt(() => addSkellamModular(buf, variance));
}
for (const [k, v] of Object.entries(rows))
  console.log(`${k.padEnd(48)} ${v.toFixed(1)} ms per 1e6 coordinates`);

// What a realistic plan asks of each client.
const plan = planSkellam({
  epsilon: 8,
  delta: 1e-5,
  rounds: 20,
  clipNorm: 1,
  scale: 2 ** 14,
  dimension: D,
  rounding: { kind: 'stochastic' },
  minNoisyClients: 4,
});
console.log(
  JSON.stringify({
    plan: {
      epsilon: plan.epsilon,
      l2: plan.sensitivity.l2,
      centralVariance: plan.centralVariance,
      localVariance: plan.localVariance,
      centralStddevInModelUnits: Math.sqrt(plan.centralVariance) / 2 ** 14,
    },
    ms_per_1e6: rows,
  }),
);

if (process.argv.includes('--browser')) {
  assertChromium();
  const bundle = await build({
    entryPoints: [new URL('../src/protocol/privacy/index.ts', import.meta.url).pathname],
    bundle: true,
    format: 'iife',
    globalName: 'privacy',
    write: false,
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    const browserRows = await page.evaluate(
      ({ d, reps }) => {
        type Lib = { addSkellamModular: (v: Uint32Array, variance: number) => Uint32Array };
        const lib = (globalThis as unknown as { privacy: Lib }).privacy;
        const out: Record<string, number> = {};
        const values = new Uint32Array(d);
        for (const variance of [2, 39, 41, 1e4, 1e8, 1e12]) {
          lib.addSkellamModular(values, variance);
          const t: number[] = [];
          for (let i = 0; i < reps; i++) {
            const s = performance.now();
            lib.addSkellamModular(values, variance);
            t.push(performance.now() - s);
          }
          out[`browser: local variance ${variance}`] = t.sort((a, b) => a - b)[Math.floor(reps / 2)]!;
        }
        return out;
      },
      { d: D, reps: REPS },
    );
    for (const [k, v] of Object.entries(browserRows))
      console.log(`${k.padEnd(48)} ${v.toFixed(1)} ms per 1e6 coordinates`);
  } finally {
    await browser.close();
  }
}
