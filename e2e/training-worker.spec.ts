/**
 * The WebGPU LoRA trainer in its Web Worker, driven from a page: a tiny Korean-vocabulary GGUF is
 * loaded, Korean instruction records are tokenised in the worker (prompt masked), a few AdamW steps
 * lower the loss, FFA-LoRA leaves lora_A untouched, typed errors cross the worker boundary, and the
 * main thread has no long task (> 50 ms) while training.
 */
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let modelPath = '';

test.beforeAll(() => {
  modelPath =
    execFileSync('npx', ['tsx', 'scripts/gen-test-model.ts', '--arch', 'llama', '--quant', 'Q8_0'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .at(-1) ?? '';
});

test('trains a LoRA adapter in the worker without blocking the page', async ({ page }) => {
  test.setTimeout(300_000);
  const bytes = readFileSync(modelPath);
  await page.route('**/models/train-e2e.gguf', (route) =>
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
  const result = await page.evaluate(async () => {
    type TW = new () => import('../src/training/worker-client.ts').TrainingWorker;
    const Ctor = (window as unknown as { DureTrainingWorker: TW }).DureTrainingWorker;
    const tw = new Ctor();
    const info = await tw.loadModel('/models/train-e2e.gguf');
    const records = [
      {
        instruction: '주민등록등본은 어디서 발급하나요?',
        output: '가까운 주민센터나 정부24에서 발급할 수 있습니다.',
      },
      { instruction: '여권 재발급에 필요한 서류는?', output: '신분증과 여권용 사진 한 장이 필요합니다.' },
      { instruction: '전입신고 기한을 알려 주세요.', output: '이사한 날부터 14일 이내에 신고해야 합니다.' },
    ];
    const prepared = await tw.prepare(records, 64);
    // Seeded A, small non-zero B, all seven modules: built here from the model's shape.
    const rank = 4;
    const tensors = new Map<string, Float32Array>();
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5) * 0.1;
    for (let l = 0; l < info.modelShape.numLayers; l++) {
      for (const [m, d] of Object.entries(info.modelShape.modules)) {
        const block = ['q_proj', 'k_proj', 'v_proj', 'o_proj'].includes(m) ? 'self_attn' : 'mlp';
        const base = `base_model.model.model.layers.${l}.${block}.${m}`;
        tensors.set(`${base}.lora_A.weight`, Float32Array.from({ length: rank * d.inFeatures }, rnd));
        tensors.set(`${base}.lora_B.weight`, Float32Array.from({ length: d.outFeatures * rank }, rnd));
      }
    }
    const adapter = { rank, alpha: 8, targetModules: Object.keys(info.modelShape.modules), tensors };
    const trainer = await tw.trainer({
      adapter,
      maxSeqLen: 64,
      optimizer: { learningRate: 2e-2, trainA: false },
    });
    const before = await trainer.evaluate(prepared.examples);
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) losses.push((await trainer.step(prepared.examples)).loss);
    const after = await trainer.evaluate(prepared.examples);
    const trained = await trainer.getAdapter();
    let aSame = true;
    let bChanged = false;
    for (const [name, v] of tensors) {
      const t = trained.tensors.get(name)!;
      const same = t.every((x, i) => x === v[i]);
      if (name.includes('lora_A') && !same) aSame = false;
      if (name.includes('lora_B') && !same) bChanged = true;
    }
    let errorName = '';
    try {
      await trainer.step([{ ids: new Uint32Array([1, 2, 3]), lossMask: new Uint8Array([0, 0, 0]) }]);
    } catch (e) {
      errorName = (e as Error).name;
    }
    const masked = prepared.examples.map((e) => [e.ids.length, e.lossMask.reduce((a, b) => a + b, 0)]);
    return { info, before, after, losses, aSame, bChanged, errorName, masked };
  });
  expect(result.info.architecture).toBe('llama');
  expect(result.info.adapter.length).toBeGreaterThan(0);
  // Each example has a masked prompt and a trained answer.
  for (const [n, trained] of result.masked) {
    expect(trained).toBeGreaterThan(0);
    expect(trained).toBeLessThan(n!);
  }
  expect(result.before.loss).toBeCloseTo(result.losses[0]!, 4);
  expect(result.after.loss).toBeLessThan(result.before.loss);
  expect(result.aSame).toBe(true);
  expect(result.bChanged).toBe(true);
  expect(result.errorName).toBe('TrainingDataError');
  const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
  expect(longTasks.filter((d) => d > 50)).toEqual([]);
});
