/**
 * `npm run train:grounded-demo`: adapts Dure's demo model to answer from retrieved context
 * (issue #17, item 7) through Dure's own federated LoRA training, then merges the adapter into
 * the weights and writes public/models/demo.gguf (Q8_0).
 *
 * 1. Data: scripts/demo-model/grounded-data.ts — the widget's exact grounded prompt (same
 *    retriever, guard, instructions and context fitting) for the Q&A training split and for
 *    questions generated from every knowledge-base passage; target = the passage's answering
 *    sentence + its citation marker. The held-out split is never read.
 * 2. Federation: the real federated server in-process (src/testing/test-server.ts), three
 *    institutions of the fictional city (민원, 복지, 환경 — each holds the examples of its own
 *    documents), each running Dure's round client (src/fl/round-client.ts) with the WebGPU LoRA
 *    trainer; FedAvg rounds until the time budget is spent.
 * 3. Merge: the newest global adapter, downloaded as a member does (signed, SHA-256 checked), is
 *    merged into the base weights (W' = W + (alpha/r)·B·A) and written as Q8_0.
 *
 * Evaluation is separate (`dure eval --split heldout`, which reports answer accuracy too). Options:
 * --base, --out, --minutes (budget for the rounds), --steps (local steps per round), --rank,
 * --alpha, --lr, --batch. Progress goes to stdout; the run's report to OUT with .json → -run.json.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseCliArgs } from '../src/cli/args.ts';
import { modelChatTemplate } from '../src/engine/chat-template/fallback.ts';
import { encodeChat } from '../src/engine/chat-template/index.ts';
import { MemorySource, readGguf } from '../src/engine/gguf/index.ts';
import { modelConfig } from '../src/engine/model/config.ts';
import { createTokenizer } from '../src/engine/tokenizer/index.ts';
import { RoundClient, type LocalData } from '../src/fl/round-client.ts';
import { openFileStore } from '../src/fl/store-file.ts';
import { parseKnowledgeBase } from '../src/knowledge/kb-file.ts';
import { Bm25Retriever } from '../src/knowledge/retriever.ts';
import { requestNodeGpu } from '../src/node/webgpu.ts';
import type { CreateTaskRequest, Task } from '../src/protocol/schemas.ts';
import type { LoraTrainer, TrainExample } from '../src/training/api.ts';
import { convertRecords } from '../src/training/examples.ts';
import { protocolModelShape } from '../src/training/model-shape.ts';
import { createLoraTrainer } from '../src/training/trainer.ts';
import { listenServer } from '../src/testing/test-server.ts';
import { groundedRecords, type GroundedRecord, type QaItem } from './demo-model/grounded-data.ts';
import {
  ALL_MODULES,
  mergeAdapter,
  metadataList,
  readWeights,
  setMetadata,
  writeModel,
} from './demo-model/model.ts';

const { values: args } = parseCliArgs({
  options: {
    base: { type: 'string', default: 'public/models/demo.gguf' },
    out: { type: 'string', default: 'public/models/demo.gguf' },
    kb: { type: 'string', default: 'public/demo/kb.json' },
    qa: { type: 'string', default: 'public/demo/kb-qa.jsonl' },
    minutes: { type: 'string', default: '35' },
    steps: { type: 'string', default: '6' },
    rank: { type: 'string', default: '32' },
    alpha: { type: 'string', default: '64' },
    lr: { type: 'string', default: '3e-3' },
    batch: { type: 'string', default: '1' },
    'max-tokens': { type: 'string', default: '64' },
  },
});
const num = (k: keyof typeof args) => Number(args[k]);
const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const started = performance.now();
const budgetMs = num('minutes') * 60_000;

// 1. Data.
const baseBytes = readFileSync(resolve(String(args.base)));
const baseSha = createHash('sha256').update(baseBytes).digest('hex');
const file = await readGguf(new MemorySource(baseBytes));
const cfg = modelConfig(file);
const tokenizer = createTokenizer(file.metadata);
const template = modelChatTemplate(file.metadata);
const kb = parseKnowledgeBase(readFileSync(resolve(String(args.kb)), 'utf8'));
const qa = readFileSync(resolve(String(args.qa)), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as QaItem);
const records = await groundedRecords({
  retriever: new Bm25Retriever(kb.passages),
  passages: kb.passages,
  qa,
  contextLength: cfg.contextLength,
  maxTokens: num('max-tokens'),
  countTokens: (messages) => encodeChat(template, tokenizer, { messages }, { addBos: false }).length,
});
const toExamples = (rs: GroundedRecord[]): TrainExample[] =>
  rs.flatMap(
    (r) =>
      convertRecords(
        [{ instruction: r.question, output: r.answer }],
        tokenizer,
        template,
        cfg.contextLength,
        {
          system: r.system,
        },
      ).examples,
  );
const institutions = [...new Set(records.map((r) => r.institution))].sort();
const data: Record<string, LocalData> = {};
for (const name of institutions) {
  // Interleave so every round sees Q&A and generated questions; one Q&A example validates locally.
  const mine = records.filter((r) => r.institution === name);
  const own = toExamples(mine);
  const val = own.splice(
    mine.findIndex((r) => r.origin === 'qa'),
    1,
  );
  data[name] = { train: own, validation: val };
}
const maxSeqLen = Math.max(
  ...Object.values(data).flatMap((d) => [...d.train, ...d.validation].map((e) => e.ids.length)),
);
log(
  `data: ${records.length} records (${records.filter((r) => r.origin === 'qa').length} from the Q&A training split),`,
  Object.fromEntries(institutions.map((n) => [n, data[n]!.train.length])),
  `longest ${maxSeqLen} tokens`,
);

// 2. Federation.
const gpu = await requestNodeGpu();
const srv = await listenServer({ tickMs: 50 });
const trainers: LoraTrainer[] = [];
const roundLog: { round: number; institution: string; before: number; after: number; seconds: number }[] = [];
const stepLog: { round: number; institution: string; step: number; loss: number; seconds: number }[] = [];
let task: Task;
let rounds = 0;
let latest: { version: number; sha256: string };
const rank = num('rank');
const alpha = num('alpha');
try {
  const storeDir = mkdtempSync(join(tmpdir(), 'dure-grounded-'));
  const stores = Object.fromEntries(institutions.map((n) => [n, openFileStore(join(storeDir, `${n}.json`))]));
  const members: string[] = [];
  for (const name of institutions) {
    const c = new RoundClient({
      serverUrl: srv.url,
      taskId: 'task_none',
      store: stores[name]!,
      trainer: () => {
        throw new Error('unused');
      },
    });
    members.push((await c.enroll(await srv.enrollmentCode(`두레시 ${name}`))).institutionId);
  }
  const spec: CreateTaskRequest = {
    name: '두레시 민원 근거 답변 어댑터',
    baseModel: { id: file.metadata.get('general.name')?.toString() ?? 'dure-demo', sha256: baseSha },
    modelShape: protocolModelShape(cfg),
    lora: { rank, alpha, targetModules: [...ALL_MODULES], seed: 2026 },
    strategy: { name: 'fedavg' },
    // More rounds than the budget allows: the loop below stops at the budget.
    rounds: 100,
    localEpochs: 1000,
    localSteps: num('steps'),
    minParticipants: institutions.length,
    roundDeadlineSeconds: 3600,
    maxUpdateNorm: 1e4,
    publicAdapters: false,
    privacy: { secureAggregation: false, dp: null, phaseSeconds: 20 },
  } as CreateTaskRequest;
  task = await srv.startTask(spec, members);
  log(
    `task ${task.id}: FedAvg, ${institutions.length} institutions, rank ${rank}, alpha ${alpha}, lr ${args.lr}`,
  );
  const own: Record<string, Promise<LoraTrainer>> = {};
  const clients = institutions.map(
    (name) =>
      new RoundClient({
        serverUrl: srv.url,
        taskId: task.id,
        store: stores[name]!,
        pollIntervalMs: 100,
        batchSize: num('batch'),
        seed: institutions.indexOf(name) + 1,
        // One trainer per institution, kept across rounds (the client sets each round's adapter).
        trainer: (need) =>
          (own[name] ??= createLoraTrainer(gpu.device, new MemorySource(baseBytes), {
            adapter: need.adapter,
            maxSeqLen,
            optimizer: { learningRate: num('lr'), trainA: need.trainA, proximalMu: need.proximalMu },
          }).then((t) => (trainers.push(t), t))),
        onProgress: (p) => {
          if (p.phase === 'training') {
            const seconds = Math.round((performance.now() - started) / 1000);
            stepLog.push({ round: p.round, institution: name, step: p.step, loss: p.loss, seconds });
            log(`  round ${p.round} ${name} step ${p.step}: loss ${p.loss.toFixed(4)}`);
          }
        },
      }),
  );
  let roundMs = 0;
  while (performance.now() - started + roundMs < budgetMs) {
    const t0 = performance.now();
    const outcomes = await Promise.all(clients.map((c, i) => c.runRound(data[institutions[i]!]!)));
    roundMs = performance.now() - t0;
    rounds++;
    outcomes.forEach((o, i) => {
      if (o.kind !== 'contributed') throw new Error(`${institutions[i]}: round outcome ${o.kind}`);
      const row = {
        round: o.round,
        institution: institutions[i]!,
        before: o.metrics.evalBefore.loss,
        after: o.metrics.evalAfter.loss,
        seconds: Math.round(roundMs / 1000),
      };
      roundLog.push(row);
      log(
        `round ${row.round} ${row.institution}: validation loss ${row.before.toFixed(4)} → ${row.after.toFixed(4)}`,
      );
    });
  }
  // The last round's aggregate: wait until the registry holds it.
  for (;;) {
    const detail = await srv.admin.call<{ versions: { version: number; sha256: string }[] }>(
      'GET',
      `/v1/admin/tasks/${task.id}`,
    );
    const v = detail.versions.at(-1);
    if (v && v.version >= rounds) {
      latest = v;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const global = await clients[0]!.downloadGlobal(latest.version, latest.sha256);
  log(
    `global adapter v${global.version} (${global.bytes.byteLength} bytes, sha256 ${global.sha256.slice(0, 12)}…)`,
  );

  // 3. Merge and write.
  const weights = await readWeights(file);
  mergeAdapter(weights, global.lora);
  const md = metadataList(file);
  setMetadata(
    md,
    'general.description',
    "Dure's Korean demo model, adapted by federated LoRA (3 simulated institutions, FedAvg) to answer from retrieved 민원 guides with citations",
  );
  const bytes = writeModel(weights, md);
  const out = resolve(String(args.out));
  writeFileSync(out, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  log(`wrote ${out} (${bytes.length} bytes, sha256 ${sha256})`);
  const report = {
    base: { sha256: baseSha, bytes: baseBytes.length },
    out: { sha256, bytes: bytes.length },
    data: {
      records: records.length,
      fromQaTrainingSplit: records.filter((r) => r.origin === 'qa').length,
      generated: records.filter((r) => r.origin === 'generated').length,
      perInstitution: Object.fromEntries(
        institutions.map((n) => [
          n,
          { train: data[n]!.train.length, validation: data[n]!.validation.length },
        ]),
      ),
      maxSeqLen,
    },
    federation: {
      server: 'federated-server in-process (src/testing/test-server.ts)',
      client: 'src/fl/round-client.ts with the WebGPU LoRA trainer (Dawn, SwiftShader)',
      strategy: 'fedavg',
      institutions,
      rounds,
      localSteps: num('steps'),
      batch: num('batch'),
      rank,
      alpha,
      targetModules: ALL_MODULES,
      learningRate: num('lr'),
      globalAdapter: { version: latest.version, sha256: latest.sha256 },
      seconds: Math.round((performance.now() - started) / 1000),
    },
    roundLog,
    stepLog,
    command: `npm run train:grounded-demo -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  writeFileSync(out.replace(/\.gguf$/, '-run.json'), JSON.stringify(report, null, 2) + '\n');
} finally {
  trainers.forEach((t) => t.dispose());
  await srv.close();
}
log('done');
process.exit(0);
