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
 * Korean-vocabulary llama), --institutions N (default 3; beyond three, further institutions of
 * the same kinds with their own data), --secure-aggregation (SecAgg+: the server sees only the
 * sum), --dp-epsilon E [--dp-delta D] (distributed DP over the task's rounds, needs secure
 * aggregation), --dropout N (N institutions vanish after sending their masked input in round 1,
 * as a closed browser would, and come back for the next round), --json (the last stdout line is one
 * JSON summary). DURE_DATA_DIR keeps the server's data there instead of a temp directory.
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

/** One taking part: a kind of institution (its data generator) and its own seed and name. */
export interface Participant {
  id: string;
  kind: InstitutionName;
  title: string;
  seed: number;
}

/** `n` institutions: the three kinds first, then more of each kind with their own data. */
export function participants(n: number): Participant[] {
  return Array.from({ length: n }, (_, i) => {
    const kind = INSTITUTIONS[i % INSTITUTIONS.length]!;
    const copy = Math.floor(i / INSTITUTIONS.length);
    return {
      id: copy === 0 ? kind : `${kind}-${copy + 1}`,
      kind,
      title: copy === 0 ? INSTITUTION_TITLES[kind].ko : `${INSTITUTION_TITLES[kind].ko} ${copy + 1}`,
      seed: 11 + i,
    };
  });
}

export interface DemoOptions {
  device: GPUDevice;
  /** Institutions taking part (default 3). */
  institutions?: number;
  /** Run rounds under SecAgg+ (the server never sees an individual update). */
  secureAggregation?: boolean;
  /** Distributed DP over the task's rounds (needs secure aggregation). */
  dp?: { epsilon: number; delta: number } | null;
  /** Institutions that drop out after sending their masked input in round 1. */
  dropout?: number;
  /** The server's data directory (kept); a temp directory by default. */
  dataDir?: string;
  /** The task's L2 bound on an update (under DP it also sets the noise); default 50, 1 with DP. */
  maxUpdateNorm?: number;
  /** Length of each secure phase after the roster (default 20 s): what a dropout costs the others. */
  phaseSeconds?: number;
  /** Under DP, train q and v at rank 2 instead of every module at rank 4. */
  smallAdapterUnderDp?: boolean;
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
  heldOut: Record<string, number[]>;
  /** Each round's local validation loss before → after training, per institution. */
  local: Record<string, { round: number; before: number; after: number; clipped: boolean }[]>;
  seconds: number;
}

export interface DemoResult {
  model: { path: string; sha256: string; arch: string; layers: number; embd: number };
  examples: Record<string, { train: number; validation: number; test: number }>;
  options: Omit<DemoOptions, 'device' | 'log' | 'modelPath'>;
  strategies: StrategyResult[];
  /** The newest global adapter as a member institution downloads it (the task is not public). */
  latest: { taskId: string; version: number | null; sha256: string; bytes: number };
  /** Per strategy: rounds in which institutions dropped, and the DP budget spent. */
  privacy: {
    secureAggregation: boolean;
    dropped: number;
    dp: { epsilon: number; delta: number; epsilonSpent: number; noiseStdPerCoordinate: number } | null;
  };
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
  const secure = o.secureAggregation ?? false;
  const dp = o.dp ?? null;
  const dropout = o.dropout ?? 0;
  if (dp && !secure) throw new Error('--dp-epsilon needs --secure-aggregation');
  if (dropout > 0 && !secure)
    throw new Error('--dropout is about secure aggregation: add --secure-aggregation');
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

  const people = participants(o.institutions ?? 3);
  const names = people.map((p) => p.id);
  const data = {} as Record<string, { local: LocalData; test: TrainExample[] }>;
  const examples = {} as DemoResult['examples'];
  people.forEach(({ id: name, kind, seed }) => {
    // Records whose prompt alone fills maxSeqLen are dropped by convertRecords: draw spares.
    const size = Math.min(5000, 4 * (o.trainExamples + o.testExamples) + 8);
    const ds = institutionDataset(kind, seed, { size, testFraction: 0.5 });
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
  const srv = await listenServer({ tickMs: 50, ...(o.dataDir ? { dataDir: o.dataDir } : {}) });
  o.log(`서버 / server: ${srv.url}  (data ${srv.dataDir})`);
  const trainers: LoraTrainer[] = [];
  try {
    // Enrol each institution once; its key lives in its own store, as in its own browser.
    const stores = Object.fromEntries(names.map((n) => [n, openFileStore(join(runDir, `${n}.json`))]));
    const memberIds: string[] = [];
    for (const { id: name, title } of people) {
      const c = new RoundClient({
        serverUrl: srv.url,
        taskId: 'task_none',
        store: stores[name]!,
        trainer: () => {
          throw new Error('unused');
        },
      });
      memberIds.push((await c.enroll(await srv.enrollmentCode(title))).institutionId);
    }
    // One trainer per institution and optimizer setting (FedAvg trains A and B, FFA-LoRA only B).
    const trainerCache = new Map<string, Promise<LoraTrainer>>();
    const trainerFor =
      (name: string) =>
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
    let lastPrivacy: NonNullable<DemoResult['privacy']['dp']> | null = null;
    let droppedRounds = 0;
    for (const strategy of o.strategies) {
      const t0 = performance.now();
      const spec: CreateTaskRequest = {
        name: `두레 안내 어댑터 (${strategy})`,
        baseModel: { id: file.metadata.get('general.name')?.toString() ?? 'dure-demo', sha256: modelSha },
        modelShape: protocolModelShape(cfg),
        // Under DP the noise grows with the adapter's size (√d at a fixed clip); a small LoRA (q and
        // v, rank 2) is an option, but measured it learned less than every module at rank 4.
        lora:
          dp && o.smallAdapterUnderDp
            ? { rank: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'], seed: 2026 }
            : { rank: 4, alpha: 8, targetModules: [...KNOWN_TARGET_MODULES], seed: 2026 },
        strategy: { name: strategy } as StrategyConfig,
        rounds: o.rounds,
        localEpochs: 1000,
        localSteps: o.steps,
        // Every institution but those that drop must be in each round's sum.
        minParticipants: Math.max(2, people.length - dropout),
        roundDeadlineSeconds: 3600,
        // Under DP the clip bound sets the noise: a small bound keeps the noise small next to the
        // signal (each client's update is scaled down to it).
        maxUpdateNorm: o.maxUpdateNorm ?? (dp ? 1 : 50),
        // Widgets may load the adapters only with k ≥ 5 and DP (issue #15).
        publicAdapters: dp !== null && people.length - dropout >= 5,
        privacy: { secureAggregation: secure, dp, phaseSeconds: o.phaseSeconds ?? 20 },
      };
      const task = await srv.startTask(spec, memberIds);
      lastTask = task;
      o.log(`\n── ${strategy}: task ${task.id}, ${o.rounds} rounds × ${o.steps} local steps ──`);
      const local = Object.fromEntries(
        names.map((n) => [n, [] as StrategyResult['local'][string]]),
      ) as StrategyResult['local'];
      const client = (name: string, fetchFn?: typeof fetch) =>
        new RoundClient({
          serverUrl: srv.url,
          taskId: task.id,
          store: stores[name]!,
          trainer: trainerFor(name),
          pollIntervalMs: 100,
          batchSize: o.batchSize,
          seed: names.indexOf(name) + 1,
          ...(fetchFn ? { fetch: fetchFn } : {}),
          onProgress: (p) => {
            if (p.phase === 'uploaded')
              o.log(`  ${name.padEnd(10)} round ${p.round} sent (${p.receipt.sha256.slice(0, 8)}…)`);
          },
        });
      const droppers = new Set(names.slice(names.length - dropout));
      const outcomes = await Promise.all(
        names.map(async (name) => {
          if (!droppers.has(name))
            return client(name).participate(data[name]!.local, { maxRounds: o.rounds });
          // Round 1: the page closes right after the masked input left (its unmask never does).
          const stop = new AbortController();
          const closing: typeof fetch = (input, init) => {
            if (String(input).includes('/secure/unmask')) {
              stop.abort();
              return Promise.reject(new DOMException('page closed', 'AbortError'));
            }
            return fetch(input, init);
          };
          try {
            await client(name, closing).runRound(data[name]!.local, stop.signal);
            throw new Error(`${name} was meant to drop out in round 1`);
          } catch (err) {
            if (!stop.signal.aborted) throw err;
          }
          droppedRounds++;
          o.log(`  ${name.padEnd(10)} round 1 dropped out after masking`);
          // A reload: the same store, the next rounds.
          return client(name).participate(data[name]!.local, { maxRounds: o.rounds - 1 });
        }),
      );
      names.forEach((name, i) => {
        for (const out of outcomes[i]! as RoundOutcome[]) {
          if (out.kind !== 'contributed') throw new Error(`${name}: round outcome ${out.kind}`);
          local[name]!.push({
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
      const heldOut = Object.fromEntries(names.map((n) => [n, [] as number[]])) as StrategyResult['heldOut'];
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
        for (const name of names) heldOut[name]!.push((await evaluator.evaluate(data[name]!.test)).loss);
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
      if (dp) {
        const { privacy } = await srv.admin.call<{ privacy: NonNullable<DemoResult['privacy']['dp']> }>(
          'GET',
          `/v1/admin/tasks/${task.id}`,
        );
        lastPrivacy = privacy;
        o.log(`  ε spent ${privacy.epsilonSpent.toFixed(3)} of ${privacy.epsilon} (δ ${privacy.delta})`);
      }
      o.log(formatTable(strategy, heldOut, people));
      o.log(`  (${seconds.toFixed(1)} s)`);
    }

    // A member institution downloads the newest global adapter: signed, checked against the
    // registry's SHA-256. (Not the public feed: citizens get only versions an admin released.)
    const { versions } = await srv.admin.call<{ versions: { version: number; sha256: string }[] }>(
      'GET',
      `/v1/admin/tasks/${lastTask!.id}`,
    );
    const newest = versions.at(-1)!;
    const feed = await new RoundClient({
      serverUrl: srv.url,
      taskId: lastTask!.id,
      store: stores[names[0]!]!,
      trainer: () => {
        throw new Error('unused');
      },
    }).downloadGlobal(newest.version, newest.sha256);
    o.log(
      `\n최신 어댑터 / latest adapter (${names[0]}, member download): ${lastTask!.id} v${feed.version} (${feed.bytes.byteLength} bytes, sha256 ${feed.sha256.slice(0, 12)}…, r=${feed.config.r}, alpha=${feed.config.lora_alpha})`,
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
      privacy: {
        secureAggregation: secure,
        dropped: droppedRounds,
        dp: lastPrivacy
          ? {
              epsilon: lastPrivacy.epsilon,
              delta: lastPrivacy.delta,
              epsilonSpent: lastPrivacy.epsilonSpent,
              noiseStdPerCoordinate: lastPrivacy.noiseStdPerCoordinate,
            }
          : null,
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
export function formatTable(
  strategy: string,
  heldOut: Record<string, number[]>,
  people: Participant[] = participants(3),
): string {
  const versions = heldOut[people[0]!.id]!.length;
  const head = [
    'institution / 기관'.padEnd(28),
    ...Array.from({ length: versions }, (_, v) => (v === 0 ? 'v0 (start)' : `v${v}`).padStart(10)),
  ];
  const rows = people.map(({ id: n, title }) => {
    const losses = heldOut[n]!;
    const change = ((losses[losses.length - 1]! / losses[0]! - 1) * 100).toFixed(1);
    return [
      `${title} (${n})`.padEnd(28 - 3),
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

function countArg(args: string[], name: string, fallback: number, least = 1): number {
  const v = argValue(args, name);
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < least || n > 1000) {
    console.error(`${name} needs a whole number from 1 to 1000 / ${name}에는 1~1000의 정수가 필요합니다`);
    process.exit(2);
  }
  return n;
}

function numberArg(args: string[], name: string, lo: number, hi: number): number | undefined {
  const v = argValue(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isFinite(n) && n > lo && n <= hi)) {
    console.error(
      `${name} needs a number in (${lo}, ${hi}] / ${name}에는 (${lo}, ${hi}] 범위의 수가 필요합니다`,
    );
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const json = args.includes('--json');
  let modelPath = argValue(args, '--model');
  if (!modelPath) {
    if (existsSync(DEMO_MODEL) && !quick) modelPath = DEMO_MODEL;
    else {
      const { testModelPath } = await import('../src/testing/test-models.ts');
      modelPath = await testModelPath({ arch: 'llama', quant: 'Q8_0', tokenizer: 'corpus-bpe' });
    }
  }
  const epsilon = numberArg(args, '--dp-epsilon', 0, 100);
  const delta = numberArg(args, '--dp-delta', 0, 0.001) ?? 1e-5;
  const secure = args.includes('--secure-aggregation');
  const dropout = argValue(args, '--dropout') === undefined ? 0 : countArg(args, '--dropout', 0, 0);
  const institutions = countArg(args, '--institutions', 3);
  const maxUpdateNorm = numberArg(args, '--clip', 0, 1e6);
  const { requestNodeGpu } = await import('../src/node/webgpu.ts');
  const gpu = await requestNodeGpu();
  // With --json the table goes to stderr, so stdout ends with the one JSON line.
  const log = json ? (l: string) => console.error(l) : (l: string) => console.log(l);
  const r = await runFederationDemo({
    device: gpu.device,
    modelPath,
    institutions,
    secureAggregation: secure,
    dp: epsilon !== undefined ? { epsilon, delta } : null,
    dropout,
    ...(process.env.DURE_DATA_DIR ? { dataDir: resolve(process.env.DURE_DATA_DIR) } : {}),
    ...(maxUpdateNorm !== undefined ? { maxUpdateNorm } : {}),
    phaseSeconds: quick ? 10 : 20,
    rounds: countArg(args, '--rounds', quick ? 2 : 3),
    steps: countArg(args, '--steps', quick ? 2 : 6),
    trainExamples: quick ? 6 : 48,
    testExamples: quick ? 2 : 8,
    maxSeqLen: quick ? 48 : 64,
    batchSize: quick ? 1 : 2,
    learningRate: quick ? 3e-2 : 2e-2,
    // Under secure aggregation the robust strategies are refused; FFA-LoRA is the recommended one.
    strategies: secure ? ['ffa-lora'] : ['fedavg', 'ffa-lora'],
    log,
  });
  gpu.device.destroy();
  if (json) console.log(JSON.stringify(summary(r)));
}

/** The one-line JSON summary of `--json`. */
export function summary(r: DemoResult) {
  const last = r.strategies[r.strategies.length - 1]!;
  return {
    secure_aggregation: r.privacy.secureAggregation,
    dp: r.privacy.dp
      ? {
          epsilon: r.privacy.dp.epsilonSpent,
          delta: r.privacy.dp.delta,
          epsilon_target: r.privacy.dp.epsilon,
          noise_std_per_coordinate: r.privacy.dp.noiseStdPerCoordinate,
          mechanism: 'distributed Skellam, RDP accountant',
        }
      : null,
    dropped: r.privacy.dropped,
    rounds: last.versions.length - 1,
    institutions: Object.keys(last.heldOut).length,
    strategy: last.strategy,
    heldout_loss: last.heldOut,
    model: { arch: r.model.arch, sha256: r.model.sha256 },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
    process.exit(1);
  });
}
