/**
 * The WebGPU engine in its Web Worker, driven from a page: a tiny Korean-vocabulary GGUF is loaded,
 * a completion streams, one is aborted mid-way, the next runs correctly, greedy ids equal the Node
 * (Dawn) run of the same file, and the main thread never has a long task (> 50 ms) meanwhile.
 */
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const PROMPT_IDS = [1, 17, 200, 33, 5, 99, 250, 7];
let modelPath = '';
let nodeIds: number[] = [];

test.beforeAll(() => {
  const run = (cmd: string, args: string[]) =>
    execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  modelPath =
    run('npx', ['tsx', 'scripts/gen-test-model.ts', '--arch', 'llama', '--quant', 'Q8_0'])
      .trim()
      .split('\n')
      .at(-1) ?? '';
  const out = run('node', [
    'bin/dure.js',
    'generate',
    '--model',
    modelPath,
    '--prompt-ids',
    PROMPT_IDS.join(','),
    '--max-tokens',
    '16',
    '--greedy',
    '--json',
  ]);
  nodeIds = (JSON.parse(out) as { ids: number[] }).ids;
  expect(nodeIds.length).toBeGreaterThan(0);
});

test('streams, aborts and matches the Node run, without blocking the page', async ({ page }) => {
  const bytes = readFileSync(modelPath);
  await page.route('**/models/e2e.gguf', (route) =>
    route.fulfill({ body: bytes, contentType: 'application/octet-stream' }),
  );
  await page.goto('/playground.html');
  await page.evaluate(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => list.getEntries().forEach((e) => w.longTasks.push(e.duration))).observe(
      {
        type: 'longtask',
        buffered: false,
      },
    );
  });

  type R = { ids: number[]; text: string; finishReason: string; chunks: string[] };
  const info = await page.evaluate(async () => {
    const dure = (window as unknown as { dure: import('../src/engine/worker-client.ts').WorkerEngine }).dure;
    return dure.load('/models/e2e.gguf');
  });
  expect(info.backend).toBe('webgpu');
  expect(info.architecture).toBe('llama');

  const run = (args: { promptIds?: number[]; prompt?: string; abortAfter?: number }) =>
    page.evaluate(async ({ promptIds, prompt, abortAfter }): Promise<R> => {
      const dure = (window as unknown as { dure: import('../src/engine/worker-client.ts').WorkerEngine })
        .dure;
      const ctl = new AbortController();
      const chunks: string[] = [];
      const it = dure.generate({
        ...(promptIds ? { promptIds } : { prompt: prompt ?? '' }),
        maxTokens: 16,
        greedy: true,
        signal: ctl.signal,
      });
      for (;;) {
        const r = await it.next();
        if (r.done) return { ...r.value, chunks };
        chunks.push(r.value.text);
        if (abortAfter !== undefined && chunks.length >= abortAfter) ctl.abort();
      }
    }, args);

  // Korean text in, streamed chunks out that join to the final text.
  const korean = await run({ prompt: '국민 누구나 민원을 쉽게 신청할 수 있도록' });
  expect(korean.chunks.length).toBeGreaterThan(1);
  expect(korean.chunks.join('')).toBe(korean.text);

  const aborted = await run({ promptIds: PROMPT_IDS, abortAfter: 2 });
  expect(aborted.finishReason).toBe('abort');
  expect(aborted.ids.length).toBeLessThan(16);

  const full = await run({ promptIds: PROMPT_IDS });
  expect(full.ids).toEqual(nodeIds);

  const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
  expect(longTasks, `main-thread long tasks (ms): ${longTasks.join(', ')}`).toEqual([]);
});
