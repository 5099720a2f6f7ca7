/**
 * The browser's `ConsoleDriver`: enrollment and rounds through the federated round client
 * (src/fl/round-client.ts, key and progress in IndexedDB via src/fl/store-idb.ts), the base model
 * through the model manager (verified against the task's SHA-256), records tokenised with the
 * model's own vocabulary and chat template, training on WebGPU — both inside
 * workers/training.worker.ts (src/training/worker-client.ts). The records are handed only to that
 * worker; what crosses the network is enrollment, polling, the global adapter and the update.
 */
import {
  ClientStoreError,
  NotEnrolledError,
  ServerRefusedError,
  TrainerContractError,
} from '../protocol/errors.ts';
import { toInstructionRecord, type NumberedRecord } from '../fl/dataset.ts';
import { RoundClient } from '../fl/round-client.ts';
import { progressEvents } from './progress-events.ts';
import type { ClientStore, RoundRecord } from '../fl/store-api.ts';
import { openIdbStore } from '../fl/store-idb.ts';
import { downloadModel } from '../model-manager/download.ts';
import { openModelStore } from '../model-manager/store.ts';
import { signRequest } from '../protocol/signing.ts';
import type { LoraTrainer } from '../training/api.ts';
import { TrainingWorker } from '../training/worker-client.ts';
import { spawnTrainingWorker } from '../../workers/spawn.ts';
import type {
  Contribution,
  ConsoleDriver,
  Identity,
  ParticipateOptions,
  TaskProtection,
} from './session.svelte.ts';

const STORE_NAME = 'dure-fl-client';
const TASKS_KEY = 'dure-console-tasks';

export interface BrowserDriverOptions {
  /** URL of the base model GGUF (same origin); the task's SHA-256 is checked. */
  modelUrl: string;
  maxSeqLen: number;
  batchSize: number;
  learningRate: number;
  pollIntervalMs: number;
  /** Take part in this task only (default: the first running task). */
  taskId: string | null;
}

/** Options from the page's query string (a deployment links `console.html?model=…`). */
export function optionsFromQuery(search: string): BrowserDriverOptions {
  const q = new URLSearchParams(search);
  const num = (k: string, d: number, lo: number, hi: number) => {
    const v = Number(q.get(k) ?? NaN);
    return Number.isFinite(v) ? Math.min(Math.max(v, lo), hi) : d;
  };
  return {
    modelUrl: q.get('model') ?? '/models/demo.gguf',
    maxSeqLen: Math.round(num('max-seq-len', 128, 8, 4096)),
    batchSize: Math.round(num('batch', 4, 1, 64)),
    learningRate: num('lr', 1e-3, 1e-6, 1),
    pollIntervalMs: Math.round(num('poll-ms', 2000, 200, 60_000)),
    taskId: q.get('task'),
  };
}

const ALL_ROUNDS_CAP = 10_000;

function contributionOf(r: RoundRecord): Contribution | null {
  if (r.stage !== 'uploaded' || !r.receipt) return null;
  return {
    taskId: r.taskId,
    round: r.round,
    examples: r.metrics.numExamples,
    trainLoss: r.metrics.trainLoss,
    before: r.metrics.evalBefore,
    after: r.metrics.evalAfter,
    sha256: r.sha256,
    updateId: r.receipt.updateId,
    at: r.updatedAt,
  };
}

function knownTasks(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(TASKS_KEY) ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function rememberTask(id: string): void {
  const all = knownTasks();
  if (!all.includes(id)) localStorage.setItem(TASKS_KEY, JSON.stringify([...all, id].slice(-50)));
}

export function createBrowserDriver(
  opts: BrowserDriverOptions = optionsFromQuery(location.search),
): ConsoleDriver {
  let store: ClientStore | null = null;
  const getStore = async () => (store ??= await openIdbStore(STORE_NAME));

  async function identity(): Promise<Identity | null> {
    const id = await (await getStore()).getIdentity();
    return id ? { serverUrl: id.serverUrl, institutionId: id.institutionId, name: id.name } : null;
  }

  /** Running tasks, asked with a signed request (the list is for enrolled institutions only). */
  async function runningTasks(
    signal: AbortSignal,
  ): Promise<{ id: string; name: string; baseModel: { id: string; sha256: string } }[]> {
    const id = await (await getStore()).getIdentity();
    if (!id) throw new NotEnrolledError('먼저 기관을 등록하세요 / enroll first');
    const headers = await signRequest(id.privateKey, id.institutionId, 'GET', '/v1/tasks');
    const res = await fetch(`${id.serverUrl}/v1/tasks`, { headers, signal, cache: 'no-store' });
    if (!res.ok) throw new ServerRefusedError(`GET /v1/tasks → ${res.status}`, res.status);
    return (await res.json()) as { id: string; name: string; baseModel: { id: string; sha256: string } }[];
  }

  async function participate(p: ParticipateOptions): Promise<void> {
    const { signal, onEvent } = p;
    const id = await (await getStore()).getIdentity();
    if (!id) throw new NotEnrolledError('먼저 기관을 등록하세요 / enroll first');

    onEvent({ kind: 'phase', phase: 'waiting' });
    const wanted = async () =>
      (await runningTasks(signal)).filter((t) => opts.taskId === null || t.id === opts.taskId);
    let tasks = await wanted();
    // Only a task's members see it: until an admin admits this institution, say so and keep asking.
    if (tasks.length === 0) onEvent({ kind: 'phase', phase: 'unassigned' });
    while (tasks.length === 0) {
      await new Promise((r) => setTimeout(r, opts.pollIntervalMs));
      if (signal.aborted) return;
      tasks = await wanted();
    }
    const task = tasks[0]!;
    rememberTask(task.id);
    onEvent({
      kind: 'round',
      info: { taskId: task.id, taskName: task.name, round: null, roundState: null, deadline: null },
    });

    // The base model, verified against the task's hash, loaded and used only in the worker.
    onEvent({ kind: 'phase', phase: 'loading' });
    const model = await downloadModel({
      url: opts.modelUrl,
      sha256: task.baseModel.sha256,
      store: await openModelStore(),
      signal,
    });
    const worker = new TrainingWorker(spawnTrainingWorker());
    let trainer: { trainA: boolean; t: LoraTrainer } | null = null;
    try {
      await worker.loadModel(model.blob);
      const prepare = async (rs: NumberedRecord[]) =>
        (
          await worker.prepare(
            rs.map((r) => toInstructionRecord(r.record)),
            opts.maxSeqLen,
          )
        ).examples;
      const data = { train: await prepare(p.train), validation: await prepare(p.validation) };

      let protection: TaskProtection | undefined;
      let submittedRound: number | null = null;
      const client = new RoundClient({
        serverUrl: id.serverUrl,
        taskId: task.id,
        store: await getStore(),
        batchSize: opts.batchSize,
        pollIntervalMs: opts.pollIntervalMs,
        trainer: async ({ trainA, adapter }) => {
          if (trainer?.trainA !== trainA) {
            trainer?.t.dispose();
            const t = await worker.trainer({
              adapter,
              maxSeqLen: opts.maxSeqLen,
              optimizer: { learningRate: opts.learningRate, trainA },
            });
            trainer = { trainA, t };
          }
          return trainer.t;
        },
        retry: {
          onRetry: ({ attempt }) => onEvent({ kind: 'phase', phase: 'retrying', attempt }),
        },
        onProgress: (e) => {
          if (e.phase === 'uploaded') submittedRound = e.round;
          if (e.phase === 'waiting')
            onEvent({
              kind: 'round',
              info: {
                taskId: task.id,
                taskName: task.name,
                round: e.round,
                roundState: e.roundState,
                deadline: null,
                // Keep what the last work poll said about protection while waiting.
                ...(protection ? { protection } : {}),
              },
            });
          for (const ev of progressEvents(e, submittedRound)) onEvent(ev);
        },
      });

      for (let i = 0; i < ALL_ROUNDS_CAP && !signal.aborted; i++) {
        const work = await client.work(signal);
        const privacy = await client.privacy(signal);
        protection = {
          secureAggregation: Boolean(work.instructions?.secure) || privacy !== null,
          dp: privacy,
        };
        onEvent({
          kind: 'round',
          info: {
            taskId: task.id,
            taskName: task.name,
            round: work.round?.number ?? null,
            roundState: work.round?.state ?? null,
            deadline: work.round?.deadline ?? null,
            protection: {
              secureAggregation: Boolean(work.instructions?.secure) || privacy !== null,
              dp: privacy,
            },
          },
        });
        const outcome = await client.runRound(data, signal);
        if (outcome.kind === 'task-ended') {
          onEvent({ kind: 'phase', phase: 'done' });
          return;
        }
        if (outcome.kind === 'contributed') {
          const rec = (await client.history()).find((r) => r.round === outcome.round);
          const c = rec && contributionOf(rec);
          if (c) onEvent({ kind: 'contribution', contribution: c });
        }
      }
    } finally {
      worker.terminate();
    }
  }

  return {
    identity,
    async enroll(serverUrl, code) {
      const client = new RoundClient({
        serverUrl,
        taskId: 'enrollment',
        store: await getStore(),
        trainer: () => {
          throw new TrainerContractError('enrollment does not train');
        },
        // A few quick attempts: staff are waiting at the form, and an unreachable server (or a CORS
        // list without this console's origin) will not come back in the next 40 s.
        retry: { attempts: 4 },
      });
      const id = await client.enroll(code);
      return { serverUrl: id.serverUrl, institutionId: id.institutionId, name: id.name };
    },
    async forget() {
      await store?.close();
      store = null;
      await new Promise<void>((resolve, reject) => {
        const r = indexedDB.deleteDatabase(STORE_NAME);
        r.onsuccess = () => resolve();
        r.onerror = () => reject(new ClientStoreError('IndexedDB: cannot delete the enrollment'));
        r.onblocked = () => resolve();
      });
      localStorage.removeItem(TASKS_KEY);
    },
    async history() {
      const s = await getStore();
      const all: Contribution[] = [];
      for (const t of knownTasks())
        for (const r of await s.listRounds(t)) {
          const c = contributionOf(r);
          if (c) all.push(c);
        }
      return all;
    },
    participate,
  };
}
