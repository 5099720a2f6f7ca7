/**
 * `npm run demo:federation` — the federated loop end to end (issue #8, item 6): the real federated
 * server, three institutions (행복시 민원 안내, 두레병원 진료 안내, 행복시 복지 안내) each with its own
 * synthetic Korean Q&A data, each running Dure's round client with the same WebGPU LoRA trainer the
 * browser's training worker runs (here on Dawn). Several rounds of FedAvg, then of FFA-LoRA; after
 * every round each institution's held-out loss under the new global adapter is measured (on its own
 * test split, which no client trains on). Finally a member institution downloads the latest adapter
 * (signed, its SHA-256 checked against the registry). Citizens' widgets would not get it: public
 * adapters need a cohort of at least five and differential privacy (issue #15), and this demo's
 * cohort is three. Results: a table on stdout and JSON under
 * node_modules/.cache/dure/demo-federation/.
 *
 * Options: --rounds N (default 3), --steps N local steps per round (default 6), --quick (the CI
 * version: 6 training and 2 held-out examples per institution, 48-token sequences, 2 rounds × 2
 * steps), --model PATH (a GGUF; default: Dure's demo model when present, else a generated tiny
 * Korean-vocabulary llama).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { modelChatTemplate } from '../src/engine/chat-template/fallback.ts';
import { readGguf } from '../src/engine/gguf/reader.ts';
import { modelConfig } from '../src/engine/model/config.ts';
import { createTokenizer } from '../src/engine/tokenizer/index.ts';
import { parseGlobalAdapter } from '../src/fl/adapter-feed.ts';
import { convertRecords } from '../src/training/examples.ts';
import { RoundClient, type LocalData, type RoundOutcome } from '../src/fl/round-client.ts';
import { openFileStore } from '../src/fl/store-file.ts';
import { listenServer } from '../src/testing/test-server.ts';
import { MemorySource } from '../src/engine/gguf/sources.ts';
import { KNOWN_TARGET_MODULES } from '../src/protocol/lora.ts';
import type { CreateTaskRequest, StrategyConfig, Task } from '../src/protocol/schemas.ts';
import type { LoraTrainer, TrainExample } from '../src/training/api.ts';
import { protocolModelShape } from '../src/training/model-shape.ts';
import { createLoraTrainer } from '../src/training/trainer.ts';
import {
  INSTITUTION_TITLES,
  INSTITUTIONS,
  institutionDataset,
  type InstitutionName,
} from './datasets/institutions.ts';

export const CACHE_DIR = resolve(import.meta.dirname, '../node_modules/.cache/dure/demo-federation');
export const DEMO_MODEL = resolve(import.meta.dirname, '../public/models/demo.gguf');

export interface DemoOptions {
  device: GPUDevice;
  modelPath: string;
  rounds: number;
  /** Local optimizer steps per round. */
  steps: number;
  /** Training examples per institution (⅛ of them, at least one, become its validation set). */
  trainExamples: number;
  /** Held-out examples per institution (from records never trained on). */
  testExamples: number;
  maxSeqLen: number;
  batchSize: number;
  learningRate: number;
  strategies: StrategyConfig['name'][];
  log: (line: string) => void;
}

export interface StrategyResult {
  strategy: string;
  taskId: string;
  /** Adapter versions in the server's registry after the last round. */
  versions: number[];
  /** Held-out loss per institution under global adapter v0, v1, … vN. */
  heldOut: Record<InstitutionName, number[]>;
  /** Each round's local validation loss before → after training, per institution. */
  local: Record<InstitutionName, { round: number; before: number; after: number; clipped: boolean }[]>;
  seconds: number;
}

export interface DemoResult {
  model: { path: string; sha256: string; arch: string; layers: number; embd: number };
  examples: Record<InstitutionName, { train: number; validation: number; test: number }>;
  options: Omit<DemoOptions, 'device' | 'log' | 'modelPath'>;
  strategies: StrategyResult[];
  /** The newest global adapter as a member institution downloads it (the task is not public). */
  latest: { taskId: string; version: number | null; sha256: string; bytes: number };
}

/** Splits off the last ⌈n/8⌉ training examples as the client's own validation set. */
function localSplit(examples: TrainExample[]): LocalData {
  const nVal = Math.max(1, Math.ceil(examples.length / 8));
  return { train: examples.slice(0, examples.length - nVal), validation: examples.slice(-nVal) };
}

/**
 * Runs the demo and returns every number it printed.
 * @throws whatever the server, the round client or the trainer throw (typed DureErrors).
 */
export async function runFederationDemo(o: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  const modelBytes = readFileSync(o.modelPath);
  const modelSha = createHash('sha256').update(modelBytes).digest('hex');
  // Read once: every trainer works from these bytes, so a model file replaced mid-run (e.g. by
  // the demo-model trainer) cannot mix two models in one run.
  const source = () => new MemorySource(modelBytes);
  const file = await readGguf(source());
  const cfg = modelConfig(file);
  const tokenizer = createTokenizer(file.metadata);
  const template = modelChatTemplate(file.metadata);
  o.log(
    `모델 / model: ${o.modelPath} (${cfg.arch}, ${cfg.nLayer} layers × ${cfg.nEmbd}, sha256 ${modelSha.slice(0, 12)}…)`,
  );

  const data = {} as Record<InstitutionName, { local: LocalData; test: TrainExample[] }>;
  const examples = {} as DemoResult['examples'];
  INSTITUTIONS.forEach((name, i) => {
    // Records whose prompt alone fills maxSeqLen are dropped by convertRecords: draw spares.
    const size = Math.min(5000, 4 * (o.trainExamples + o.testExamples) + 8);
    const ds = institutionDataset(name, 11 + i, { size, testFraction: 0.5 });
    const train = convertRecords(ds.train, tokenizer, template, o.maxSeqLen).examples.slice(
      0,
      o.trainExamples,
    );
    const test = convertRecords(ds.test, tokenizer, template, o.maxSeqLen).examples.slice(0, o.testExamples);
    if (train.length < 2 || test.length < 1)
      throw new Error(`${name}: too few examples fit maxSeqLen ${o.maxSeqLen}; raise it`);
    data[name] = { local: localSplit(train), test };
    examples[name] = {
      train: data[name].local.train.length,
      validation: data[name].local.validation.length,
      test: test.length,
    };
  });

  mkdirSync(CACHE_DIR, { recursive: true });
  const runDir = mkdtempSync(join(CACHE_DIR, 'run-'));
  const srv = await listenServer({ tickMs: 50 });
  o.log(`서버 / server: ${srv.url}  (data ${srv.dataDir})`);
  const trainers: LoraTrainer[] = [];
  try {
    // Enrol each institution once; its key lives in its own store, as in its own browser.
    const stores = Object.fromEntries(INSTITUTIONS.map((n) => [n, openFileStore(join(runDir, `${n}.json`))]));
    const memberIds: string[] = [];
    for (const name of INSTITUTIONS) {
      const c = new RoundClient({
        serverUrl: srv.url,
        taskId: 'task_none',
        store: stores[name]!,
        trainer: () => {
          throw new Error('unused');
        },
      });
      memberIds.push((await c.enroll(await srv.enrollmentCode(INSTITUTION_TITLES[name].ko))).institutionId);
    }
    // One trainer per institution and optimizer setting (FedAvg trains A and B, FFA-LoRA only B).
    const trainerCache = new Map<string, Promise<LoraTrainer>>();
    const trainerFor =
      (name: InstitutionName) =>
      (need: {
        trainA: boolean;
        proximalMu: number;
        adapter: Parameters<typeof createLoraTrainer>[2]['adapter'];
      }) => {
        const key = `${name}/${need.trainA}/${need.proximalMu}`;
        let t = trainerCache.get(key);
        if (!t) {
          t = (async () => {
            const tr = await createLoraTrainer(o.device, source(), {
              adapter: need.adapter,
              maxSeqLen: o.maxSeqLen,
              optimizer: { learningRate: o.learningRate, trainA: need.trainA, proximalMu: need.proximalMu },
            });
            trainers.push(tr);
            return tr;
          })();
          trainerCache.set(key, t);
        }
        return t;
      };
    let evaluator: LoraTrainer | undefined;

    const results: StrategyResult[] = [];
    let lastTask: Task | undefined;
    for (const strategy of o.strategies) {
      const t0 = performance.now();
      const spec: CreateTaskRequest = {
        name: `두레 안내 어댑터 (${strategy})`,
        baseModel: { id: file.metadata.get('general.name')?.toString() ?? 'dure-demo', sha256: modelSha },
        modelShape: protocolModelShape(cfg),
        lora: { rank: 4, alpha: 8, targetModules: [...KNOWN_TARGET_MODULES], seed: 2026 },
        strategy: { name: strategy } as StrategyConfig,
        rounds: o.rounds,
        localEpochs: 1000,
        localSteps: o.steps,
        minParticipants: INSTITUTIONS.length,
        roundDeadlineSeconds: 3600,
        maxUpdateNorm: 50,
        // Public adapters need k ≥ 5 and DP (issue #15); the demo's cohort is smaller.
        publicAdapters: false,
      };
      const task = await srv.startTask(spec, memberIds);
      lastTask = task;
      o.log(`\n── ${strategy}: task ${task.id}, ${o.rounds} rounds × ${o.steps} local steps ──`);
      const local = Object.fromEntries(
        INSTITUTIONS.map((n) => [n, [] as StrategyResult['local'][InstitutionName]]),
      ) as StrategyResult['local'];
      const outcomes = await Promise.all(
        INSTITUTIONS.map((name) =>
          new RoundClient({
            serverUrl: srv.url,
            taskId: task.id,
            store: stores[name]!,
            trainer: trainerFor(name),
            pollIntervalMs: 100,
            batchSize: o.batchSize,
            seed: INSTITUTIONS.indexOf(name) + 1,
            onProgress: (p) => {
              if (p.phase === 'uploaded')
                o.log(`  ${name.padEnd(8)} round ${p.round} uploaded (${p.receipt.sha256.slice(0, 8)}…)`);
            },
          }).participate(data[name].local, { maxRounds: o.rounds }),
        ),
      );
      INSTITUTIONS.forEach((name, i) => {
        for (const out of outcomes[i]! as RoundOutcome[]) {
          if (out.kind !== 'contributed') throw new Error(`${name}: round outcome ${out.kind}`);
          local[name].push({
            round: out.round,
            before: out.metrics.evalBefore.loss,
            after: out.metrics.evalAfter.loss,
            clipped: out.metrics.clipped,
          });
        }
      });
      // Wait for the last aggregation, then score every global version on every held-out set.
      let detail: { task: Task; versions: { version: number }[] };
      for (;;) {
        detail = await srv.admin.call('GET', `/v1/admin/tasks/${task.id}`);
        if (detail.task.state !== 'running') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const heldOut = Object.fromEntries(
        INSTITUTIONS.map((n) => [n, [] as number[]]),
      ) as StrategyResult['heldOut'];
      for (const { version } of detail.versions) {
        const adapter = await parseGlobalAdapter(
          (await srv.admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/${version}`)).body,
        );
        if (!evaluator) {
          evaluator = await createLoraTrainer(o.device, source(), {
            adapter: adapter.lora,
            maxSeqLen: o.maxSeqLen,
            optimizer: { learningRate: 0 },
          });
          trainers.push(evaluator);
        }
        await evaluator.setAdapter(adapter.lora);
        for (const name of INSTITUTIONS) heldOut[name].push((await evaluator.evaluate(data[name].test)).loss);
      }
      const seconds = (performance.now() - t0) / 1000;
      results.push({
        strategy,
        taskId: task.id,
        versions: detail.versions.map((v) => v.version),
        heldOut,
        local,
        seconds,
      });
      o.log(formatTable(strategy, heldOut));
      o.log(`  (${seconds.toFixed(1)} s)`);
    }

    // A member institution downloads the newest global adapter: signed, checked against the
    // registry's SHA-256. (Not the public feed: this cohort of three cannot publish.)
    const { versions } = await srv.admin.call<{ versions: { version: number; sha256: string }[] }>(
      'GET',
      `/v1/admin/tasks/${lastTask!.id}`,
    );
    const newest = versions.at(-1)!;
    const feed = await new RoundClient({
      serverUrl: srv.url,
      taskId: lastTask!.id,
      store: stores[INSTITUTIONS[0]]!,
      trainer: () => {
        throw new Error('unused');
      },
    }).downloadGlobal(newest.version, newest.sha256);
    o.log(
      `\n최신 어댑터 / latest adapter (${INSTITUTIONS[0]}, member download): ${lastTask!.id} v${feed.version} (${feed.bytes.byteLength} bytes, sha256 ${feed.sha256.slice(0, 12)}…, r=${feed.config.r}, alpha=${feed.config.lora_alpha}); ` +
        `공개 안 됨: 공개 어댑터는 5개 기관 이상과 차등 프라이버시가 필요합니다 / not public: that needs k ≥ 5 and DP`,
    );

    const { device: _d, log: _l, modelPath: _m, ...options } = o;
    const result: DemoResult = {
      model: { path: o.modelPath, sha256: modelSha, arch: cfg.arch, layers: cfg.nLayer, embd: cfg.nEmbd },
      examples,
      options,
      strategies: results,
      latest: {
        taskId: lastTask!.id,
        version: feed.version,
        sha256: feed.sha256,
        bytes: feed.bytes.byteLength,
      },
    };
    const out = join(CACHE_DIR, `result-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(out, JSON.stringify(result, null, 2));
    o.log(`\nJSON: ${out}  (total ${((performance.now() - started) / 1000).toFixed(1)} s)`);
    return result;
  } finally {
    trainers.forEach((t) => t.dispose());
    await srv.close();
  }
}

/** Held-out loss per institution (rows) after each global version (columns). */
export function formatTable(strategy: string, heldOut: Record<InstitutionName, number[]>): string {
  const versions = heldOut[INSTITUTIONS[0]].length;
  const head = [
    'institution / 기관'.padEnd(28),
    ...Array.from({ length: versions }, (_, v) => (v === 0 ? 'v0 (start)' : `v${v}`).padStart(10)),
  ];
  const rows = INSTITUTIONS.map((n) => {
    const losses = heldOut[n];
    const change = ((losses[losses.length - 1]! / losses[0]! - 1) * 100).toFixed(1);
    return [
      `${INSTITUTION_TITLES[n].ko} (${n})`.padEnd(28 - 3),
      ...losses.map((l) => l.toFixed(4).padStart(10)),
      `  ${change}%`,
    ].join('');
  });
  return [`  held-out loss (${strategy})`, '  ' + head.join(''), ...rows.map((r) => '  ' + r)].join('\n');
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function countArg(args: string[], name: string, fallback: number): number {
  const v = argValue(args, name);
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    console.error(`${name} needs a whole number from 1 to 1000 / ${name}에는 1~1000의 정수가 필요합니다`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  let modelPath = argValue(args, '--model');
  if (!modelPath) {
    if (existsSync(DEMO_MODEL) && !quick) modelPath = DEMO_MODEL;
    else {
      const { testModelPath } = await import('../src/testing/test-models.ts');
      modelPath = await testModelPath({ arch: 'llama', quant: 'Q8_0', tokenizer: 'corpus-bpe' });
    }
  }
  const { requestNodeGpu } = await import('../src/node/webgpu.ts');
  const gpu = await requestNodeGpu();
  await runFederationDemo({
    device: gpu.device,
    modelPath,
    rounds: countArg(args, '--rounds', quick ? 2 : 3),
    steps: countArg(args, '--steps', quick ? 2 : 6),
    trainExamples: quick ? 6 : 48,
    testExamples: quick ? 2 : 8,
    maxSeqLen: quick ? 48 : 64,
    batchSize: quick ? 1 : 2,
    learningRate: quick ? 3e-2 : 2e-2,
    strategies: ['fedavg', 'ffa-lora'],
    log: (l) => console.log(l),
  });
  gpu.device.destroy();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
    process.exit(1);
  });
}
