/**
 * The institution's side of a federated round (Flower's client: fit + evaluate), platform-neutral:
 * it takes a `fetch`, a key/state store and a LoRA trainer, so the browser console's worker and
 * the Node federation demo run the same code (issue #8, item 4).
 *
 * One round: poll for work → download the round's global adapter and check its SHA-256 → evaluate
 * on the validation split → train the configured local steps → evaluate again → build the update
 * (PEFT-named safetensors; only lora_B in FFA-LoRA), clipped to the task's norm bound → store it →
 * sign and upload. Network failures, 5xx and 429 are retried with backoff and jitter (retry.ts);
 * other 4xx are typed `ServerRefusedError`s.
 *
 * Resume: the built update is stored before the first upload attempt, and the receipt after it.
 * A new client on the same store (a page reload, a restarted process) re-uploads a stored update
 * instead of training again; a retry of bytes the server already accepted gets the server's
 * `duplicate` receipt, so an update counts once however often it is sent.
 *
 * Privacy: the server currently enforces an L2 bound on each update (NORM_EXCEEDED) and neither
 * adds nor expects Gaussian noise or secure-aggregation masks, so the client clips and sends the
 * clipped update in the clear; the local examples never leave this module.
 */
import type { FitInstructions, UpdateReceipt, WorkResponse } from '../protocol/schemas.ts';
import { UPDATE_META } from '../protocol/schemas.ts';
import { encodeAdapter } from '../protocol/adapter-codec.ts';
import type { NamedTensor } from '../protocol/safetensors.ts';
import { sha256Hex, signRequest } from '../protocol/signing.ts';
import type { EvalResult, LoraTensors, LoraTrainer, TrainExample } from '../training/api.ts';
import { MAX_ADAPTER_BYTES, parseGlobalAdapter, readBounded, type GlobalAdapter } from './adapter-feed.ts';
import {
  AdapterIntegrityError,
  ClientStoreError,
  LocalDataError,
  NotEnrolledError,
  RoundAbortedError,
  ServerRefusedError,
  TrainerContractError,
} from './errors.ts';
import { requestWithRetry, sleep, type RetryOptions } from './retry.ts';
import { contributeSecurely, type SecureStep } from './secure-contribution.ts';
import type { PrivacyBudgetView, SecureRoundView } from '../protocol/secure-round.ts';
import type { ClientStore, Identity, PendingKey, RoundMetrics, RoundRecord } from './store-api.ts';

/** The institution's local examples; they are only ever given to the trainer. */
export interface LocalData {
  train: TrainExample[];
  validation: TrainExample[];
}

/**
 * A trainer for a round, created with the round's optimizer settings (src/training/api.ts
 * `OptimizerOptions`): `trainA` is false in FFA-LoRA (lora_A frozen; the client checks the trainer
 * left it untouched) and `proximalMu` > 0 in FedProx (pull toward the adapter last set). Callers
 * usually keep one trainer per setting, since the adapter is replaced with `setAdapter` each round.
 */
export type TrainerProvider = (need: {
  trainA: boolean;
  proximalMu: number;
  adapter: LoraTensors;
}) => LoraTrainer | Promise<LoraTrainer>;

/**
 * What the client is doing, announced as each phase STARTS (so a slow phase is never shown as the
 * one before it — issue #20): download → prepare (the trainer takes the global adapter) →
 * evaluate before → each step k/n (`step` as it starts, `training` with its loss when done) →
 * evaluate after → sign (clip, encode, hash, store) → upload, or the secure phases → uploaded;
 * `waiting` while there is nothing to do (no round open, or others still have to send theirs).
 */
export type RoundProgress =
  | { phase: 'waiting'; round: number | null; roundState: string | null }
  | { phase: 'downloading'; round: number; globalVersion: number }
  | { phase: 'preparing'; round: number }
  | { phase: 'evaluating'; round: number; when: 'before' | 'after' }
  | { phase: 'evaluated'; round: number; when: 'before' | 'after'; result: EvalResult }
  | { phase: 'step'; round: number; step: number; steps: number }
  | { phase: 'training'; round: number; step: number; steps: number; loss: number }
  | { phase: 'signing'; round: number }
  | { phase: 'uploading'; round: number; resumed: boolean }
  /** Secure aggregation: which phase of the protocol the client is in (nothing plain is sent). */
  | { phase: 'securing'; round: number; step: SecureStep }
  | { phase: 'uploaded'; round: number; receipt: UpdateReceipt };

export type RoundOutcome =
  | { kind: 'contributed'; round: number; receipt: UpdateReceipt; metrics: RoundMetrics; resumed: boolean }
  /** The round closed before the update arrived (or another update of ours was taken). */
  | { kind: 'missed'; round: number; reason: string }
  | { kind: 'task-ended'; taskState: WorkResponse['taskState'] };

export interface RoundClientOptions {
  /** The federated server's origin, e.g. `https://fl.example.go.kr`. */
  serverUrl: string;
  taskId: string;
  store: ClientStore;
  trainer: TrainerProvider;
  fetch?: typeof fetch;
  /** Examples per optimizer step. Default 4. */
  batchSize?: number;
  /** How often to ask for work while waiting. Default 2000 ms. */
  pollIntervalMs?: number;
  retry?: RetryOptions;
  onProgress?: (p: RoundProgress) => void;
  /** Seed of the per-round shuffle of the training examples. Default 1. */
  seed?: number;
  /** Largest global adapter accepted. Default 256 MiB. */
  maxAdapterBytes?: number;
}

/** Server refusals after which the stored update can never be accepted. */
const HOPELESS = new Set(['LATE_UPDATE', 'WRONG_ROUND', 'DUPLICATE_UPDATE']);
/** Clip a little inside the bound: the server measures the float32 values we send. */
const CLIP_MARGIN = 0.999;

/** Steps of a round: `localSteps`, but never more than `localEpochs` passes over the data. */
export function plannedSteps(
  ins: Pick<FitInstructions, 'localSteps' | 'localEpochs'>,
  n: number,
  batch: number,
) {
  return Math.max(1, Math.min(ins.localSteps, ins.localEpochs * Math.ceil(n / batch)));
}

function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export class RoundClient {
  private readonly serverUrl: string;
  private readonly doFetch: typeof fetch;

  constructor(private readonly opts: RoundClientOptions) {
    this.serverUrl = opts.serverUrl.replace(/\/+$/, '');
    this.doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /**
   * Enrolls a key pair with the admin's one-time code and stores it; returns the stored identity
   * unchanged when this store is already enrolled with this server. The key pair is made and stored
   * (as the pending key) once, before the first attempt, and reused by every retry — here, or after
   * a reload when the reply was lost — because the server answers a repeat of a committed
   * enrolment only for the same public key.
   * @throws {ServerRefusedError} BAD_ENROLLMENT_CODE for a wrong or used code.
   * @throws {ClientStoreError} when the store holds an identity of another server.
   * @throws {NetworkError} when the server stays unreachable.
   */
  async enroll(code: string, signal?: AbortSignal): Promise<Identity> {
    const existing = await this.opts.store.getIdentity();
    if (existing) {
      if (existing.serverUrl === this.serverUrl) return existing;
      throw new ClientStoreError(`this store is enrolled with ${existing.serverUrl}, not ${this.serverUrl}`);
    }
    const { privateKey, publicKey } = await this.pendingKey();
    const body = JSON.stringify({ code: code.trim(), publicKey });
    const res = await requestWithRetry(
      'enrolling',
      () =>
        this.doFetch(`${this.serverUrl}/v1/enroll`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          ...(signal ? { signal } : {}),
        }),
      this.opts.retry,
      signal,
    );
    const reply = (await res.json()) as { institutionId: string; name: string };
    const identity: Identity = {
      serverUrl: this.serverUrl,
      institutionId: reply.institutionId,
      name: reply.name,
      publicKey,
      privateKey,
      enrolledAt: new Date().toISOString(),
    };
    await this.opts.store.putIdentity(identity);
    return identity;
  }

  /** The stored key of an unanswered enrolment with this server, or a new one, stored first. */
  private async pendingKey(): Promise<PendingKey> {
    const store = this.opts.store;
    const pending = await store.getPendingKey();
    // A pending key for another server is replaced: the store keeps one identity, for this server.
    if (pending?.serverUrl === this.serverUrl) return pending;
    const key: PendingKey = {
      serverUrl: this.serverUrl,
      ...(await store.generateKeyPair()),
      createdAt: new Date().toISOString(),
    };
    await store.putPendingKey(key);
    return key;
  }

  /**
   * The stored identity for this server.
   * @throws {NotEnrolledError} when there is none.
   */
  async identity(): Promise<Identity> {
    const id = await this.opts.store.getIdentity();
    if (!id || id.serverUrl !== this.serverUrl)
      throw new NotEnrolledError(`not enrolled with ${this.serverUrl}: enroll with the one-time code first`);
    return id;
  }

  private async signed(
    what: string,
    method: 'GET' | 'POST',
    path: string,
    body?: Uint8Array,
    signal?: AbortSignal,
    contentType = 'application/octet-stream',
  ): Promise<Response> {
    const id = await this.identity();
    return requestWithRetry(
      what,
      async () => {
        // A fresh timestamp and nonce per attempt: the server refuses replayed signatures.
        const headers = await signRequest(id.privateKey, id.institutionId, method, path, body);
        if (body) headers['content-type'] = contentType;
        return this.doFetch(`${this.serverUrl}${path}`, {
          method,
          headers,
          ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}),
          ...(signal ? { signal } : {}),
        });
      },
      this.opts.retry,
      signal,
    );
  }

  private get taskPath(): string {
    return `/v1/tasks/${encodeURIComponent(this.opts.taskId)}`;
  }

  /**
   * What the server wants now for this task.
   * @throws {NotEnrolledError | ServerRefusedError | NetworkError}
   */
  async work(signal?: AbortSignal): Promise<WorkResponse> {
    const res = await this.signed('asking for work', 'GET', `${this.taskPath}/work`, undefined, signal);
    return (await res.json()) as WorkResponse;
  }

  /**
   * The task's differential-privacy budget (ε target, spent, left), or null when it has no DP.
   * @throws {NotEnrolledError | ServerRefusedError | NetworkError}
   */
  async privacy(signal?: AbortSignal): Promise<PrivacyBudgetView | null> {
    const res = await this.signed(
      'reading the privacy budget',
      'GET',
      `${this.taskPath}/privacy`,
      undefined,
      signal,
    );
    return ((await res.json()) as { privacy: PrivacyBudgetView | null }).privacy;
  }

  /**
   * Downloads a global adapter version and checks it against the SHA-256 the round announced.
   * @throws {AdapterIntegrityError} on a hash mismatch or a malformed adapter.
   */
  async downloadGlobal(version: number, sha256: string, signal?: AbortSignal): Promise<GlobalAdapter> {
    const res = await this.signed(
      'downloading the global adapter',
      'GET',
      `${this.taskPath}/adapters/${version}`,
      undefined,
      signal,
    );
    const bytes = await readBounded(res, this.opts.maxAdapterBytes ?? MAX_ADAPTER_BYTES);
    const got = await sha256Hex(bytes);
    if (got !== sha256)
      throw new AdapterIntegrityError(
        `global adapter v${version} has SHA-256 ${got}, the round announced ${sha256}`,
      );
    return parseGlobalAdapter(bytes);
  }

  /** Contributed rounds and their metrics, oldest first (the console's history). */
  history(): Promise<RoundRecord[]> {
    return this.opts.store.listRounds(this.opts.taskId);
  }

  /**
   * Takes part in one round: first re-uploads a stored update a previous run left pending, else
   * waits for an open round this institution has not contributed to and trains for it.
   * @throws {NotEnrolledError} before enrolment.
   * @throws {LocalDataError} without training or validation examples.
   * @throws {ServerRefusedError} when the server refuses the update for a reason retrying cannot fix
   *   (e.g. NORM_EXCEEDED, REVOKED); the update stays stored unless it can never be accepted.
   * @throws {NetworkError | AdapterIntegrityError | TrainerContractError | ClientStoreError}
   * @throws {RoundAbortedError} when `signal` aborts (stored progress is kept).
   */
  async runRound(data: LocalData, signal?: AbortSignal): Promise<RoundOutcome> {
    await this.identity();
    if (data.train.length === 0) throw new LocalDataError('there are no training examples');
    if (data.validation.length === 0) throw new LocalDataError('there are no validation examples');
    const pending = await this.opts.store.latestRound(this.opts.taskId);
    if (pending?.stage === 'trained') return this.upload(pending, true, signal);

    let ins: FitInstructions;
    for (;;) {
      const work = await this.work(signal);
      if (work.taskState !== 'running') return { kind: 'task-ended', taskState: work.taskState };
      const last = await this.opts.store.latestRound(this.opts.taskId);
      const i = work.instructions;
      if (i && !work.submitted && !(last && last.round >= i.round)) {
        ins = i;
        break;
      }
      this.opts.onProgress?.({
        phase: 'waiting',
        round: work.round?.number ?? null,
        roundState: work.round?.state ?? null,
      });
      await sleep(this.opts.pollIntervalMs ?? 2000, signal);
    }
    return this.train(ins, data, signal);
  }

  /**
   * Runs rounds until the task ends or `maxRounds` rounds were contributed or missed.
   * @throws what {@link runRound} throws.
   */
  async participate(
    data: LocalData,
    opts: { maxRounds?: number; signal?: AbortSignal } = {},
  ): Promise<RoundOutcome[]> {
    const outcomes: RoundOutcome[] = [];
    for (let i = 0; i < (opts.maxRounds ?? Infinity); i++) {
      const o = await this.runRound(data, opts.signal);
      outcomes.push(o);
      if (o.kind === 'task-ended') break;
    }
    return outcomes;
  }

  private async train(ins: FitInstructions, data: LocalData, signal?: AbortSignal): Promise<RoundOutcome> {
    const check = () => {
      if (signal?.aborted) throw new RoundAbortedError();
    };
    const progress = this.opts.onProgress;
    progress?.({ phase: 'downloading', round: ins.round, globalVersion: ins.globalVersion });
    const global = await this.downloadGlobal(ins.globalVersion, ins.globalSha256, signal);
    progress?.({ phase: 'preparing', round: ins.round });
    const trainer = await this.opts.trainer({
      trainA: ins.trainA,
      proximalMu: ins.proximalMu,
      adapter: global.lora,
    });
    await trainer.setAdapter(global.lora);
    check();

    progress?.({ phase: 'evaluating', round: ins.round, when: 'before' });
    const evalBefore = await trainer.evaluate(data.validation);
    progress?.({ phase: 'evaluated', round: ins.round, when: 'before', result: evalBefore });
    const batch = Math.max(1, Math.floor(this.opts.batchSize ?? 4));
    const n = data.train.length;
    const steps = plannedSteps(ins, n, batch);
    const perEpoch = Math.ceil(n / batch);
    const stepLosses: number[] = [];
    let order: number[] = [];
    for (let s = 0; s < steps; s++) {
      check();
      const epoch = Math.floor(s / perEpoch);
      if (s % perEpoch === 0)
        order = shuffled(n, ((this.opts.seed ?? 1) * 0x9e3779b1) ^ (ins.round << 8) ^ epoch);
      const at = (s % perEpoch) * batch;
      const examples = order.slice(at, at + batch).map((k) => data.train[k]!);
      progress?.({ phase: 'step', round: ins.round, step: s + 1, steps });
      const { loss } = await trainer.step(examples);
      stepLosses.push(loss);
      progress?.({ phase: 'training', round: ins.round, step: s + 1, steps, loss });
    }
    check();
    progress?.({ phase: 'evaluating', round: ins.round, when: 'after' });
    const evalAfter = await trainer.evaluate(data.validation);
    progress?.({ phase: 'evaluated', round: ins.round, when: 'after', result: evalAfter });
    progress?.({ phase: 'signing', round: ins.round });

    const { tensors, norm, clipped } = buildUpdate(global, await trainer.getAdapter(), ins);
    const trainLoss = stepLosses.reduce((a, b) => a + b, 0) / stepLosses.length;
    const metrics: RoundMetrics = {
      numExamples: n,
      steps,
      stepLosses,
      trainLoss,
      evalBefore,
      evalAfter,
      updateNorm: norm,
      clipped,
      trainA: ins.trainA,
    };
    const meta: Record<string, string> = {
      [UPDATE_META.numExamples]: String(n),
      [UPDATE_META.round]: String(ins.round),
      ...(Number.isFinite(trainLoss) ? { [UPDATE_META.trainLoss]: String(trainLoss) } : {}),
      ...(Number.isFinite(evalAfter.loss) ? { [UPDATE_META.evalLoss]: String(evalAfter.loss) } : {}),
    };
    if (ins.secure) return this.contributeSecurely(ins, global, tensors, metrics, signal);
    const update = encodeAdapter(tensors, { metadata: meta });
    const record: RoundRecord = {
      taskId: this.opts.taskId,
      round: ins.round,
      globalVersion: ins.globalVersion,
      stage: 'trained',
      update,
      sha256: await sha256Hex(update),
      metrics,
      updatedAt: new Date().toISOString(),
    };
    await this.opts.store.putRound(record);
    return this.upload(record, false, signal);
  }

  /**
   * The secure phases of a round (secure-contribution.ts). The update itself is never stored or
   * sent; the record keeps the metrics and the SHA-256 of the masked vector that was sent.
   */
  private async contributeSecurely(
    ins: FitInstructions,
    global: GlobalAdapter,
    tensors: NamedTensor[],
    metrics: RoundMetrics,
    signal?: AbortSignal,
  ): Promise<RoundOutcome> {
    const base = `${this.taskPath}/rounds/${ins.round}/secure`;
    const json = (body: unknown) => new TextEncoder().encode(JSON.stringify(body));
    const outcome = await contributeSecurely({
      fit: ins.secure!,
      maxUpdateNorm: ins.maxUpdateNorm,
      tensors,
      global: global.lora.tensors,
      pollMs: this.opts.pollIntervalMs ?? 2000,
      ...(signal ? { signal } : {}),
      onStep: (step) => this.opts.onProgress?.({ phase: 'securing', round: ins.round, step }),
      transport: {
        view: async () =>
          (await (
            await this.signed('following the secure round', 'GET', base, undefined, signal)
          ).json()) as SecureRoundView,
        post: async (phase, body) => {
          await this.signed(
            `secure aggregation (${phase})`,
            'POST',
            `${base}/${phase}`,
            json(body),
            signal,
            'application/json',
          );
        },
        postMasked: async (bytes) => {
          await this.signed('sending the masked update', 'POST', `${base}/masked`, bytes, signal);
        },
        sleep: (ms) => sleep(ms, signal),
      },
    });
    const now = new Date().toISOString();
    if (outcome.kind === 'missed') {
      await this.opts.store.putRound({
        taskId: this.opts.taskId,
        round: ins.round,
        globalVersion: ins.globalVersion,
        stage: 'abandoned',
        update: new Uint8Array(0),
        sha256: '',
        metrics,
        reason: outcome.reason,
        updatedAt: now,
      });
      return { kind: 'missed', round: ins.round, reason: outcome.reason };
    }
    // No update id exists under secure aggregation: the receipt names the masked vector sent.
    const receipt: UpdateReceipt = {
      updateId: 0,
      round: ins.round,
      sha256: outcome.maskedSha256,
      duplicate: false,
    };
    await this.opts.store.putRound({
      taskId: this.opts.taskId,
      round: ins.round,
      globalVersion: ins.globalVersion,
      stage: 'uploaded',
      update: new Uint8Array(0),
      sha256: outcome.maskedSha256,
      metrics,
      receipt,
      updatedAt: now,
    });
    this.opts.onProgress?.({ phase: 'uploaded', round: ins.round, receipt });
    return { kind: 'contributed', round: ins.round, receipt, metrics, resumed: false };
  }

  private async upload(record: RoundRecord, resumed: boolean, signal?: AbortSignal): Promise<RoundOutcome> {
    this.opts.onProgress?.({ phase: 'uploading', round: record.round, resumed });
    let receipt: UpdateReceipt;
    try {
      const res = await this.signed(
        `uploading the round ${record.round} update`,
        'POST',
        `${this.taskPath}/rounds/${record.round}/updates`,
        record.update,
        signal,
      );
      receipt = (await res.json()) as UpdateReceipt;
    } catch (err) {
      if (err instanceof ServerRefusedError && (HOPELESS.has(err.serverCode) || err.status === 422)) {
        await this.opts.store.putRound({
          ...record,
          stage: 'abandoned',
          update: new Uint8Array(0),
          reason: err.serverCode,
          updatedAt: new Date().toISOString(),
        });
        if (HOPELESS.has(err.serverCode))
          return { kind: 'missed', round: record.round, reason: err.serverCode };
      }
      throw err;
    }
    if (receipt.sha256 !== record.sha256 || receipt.round !== record.round)
      throw new AdapterIntegrityError(`the server's receipt does not match the round ${record.round} update`);
    await this.opts.store.putRound({
      ...record,
      stage: 'uploaded',
      update: new Uint8Array(0),
      receipt,
      updatedAt: new Date().toISOString(),
    });
    this.opts.onProgress?.({ phase: 'uploaded', round: record.round, receipt });
    return { kind: 'contributed', round: record.round, receipt, metrics: record.metrics, resumed };
  }
}

/**
 * The tensors to send: every trained tensor (only lora_B when `trainA` is false), moved back
 * toward the global adapter if their distance from it exceeds the task's bound.
 * @throws {TrainerContractError} when the trainer's adapter lacks a tensor, changes a shape, holds a
 * non-finite value, or changed lora_A in an FFA-LoRA round.
 */
export function buildUpdate(
  global: GlobalAdapter,
  trained: LoraTensors,
  ins: Pick<FitInstructions, 'trainA' | 'maxUpdateNorm'>,
): { tensors: NamedTensor[]; norm: number; clipped: boolean } {
  const sent: { name: string; shape: number[]; g: Float32Array; w: Float32Array }[] = [];
  for (const [name, shape] of global.shapes) {
    const g = global.lora.tensors.get(name)!;
    const w = trained.tensors.get(name);
    if (!w || w.length !== g.length)
      throw new TrainerContractError(`the trained adapter lacks ${name} or changed its size`);
    const isA = name.endsWith('.lora_A.weight');
    if (isA && !ins.trainA) {
      for (let i = 0; i < g.length; i++)
        if (w[i] !== g[i]) throw new TrainerContractError(`FFA-LoRA round, but the trainer changed ${name}`);
      continue;
    }
    sent.push({ name, shape, g, w });
  }
  let sq = 0;
  for (const { name, g, w } of sent) {
    for (let i = 0; i < g.length; i++) {
      const d = w[i]! - g[i]!;
      if (!Number.isFinite(d)) throw new TrainerContractError(`the trained ${name} has a non-finite value`);
      sq += d * d;
    }
  }
  const raw = Math.sqrt(sq);
  const bound = ins.maxUpdateNorm * CLIP_MARGIN;
  const clipped = raw > bound;
  const scale = clipped ? bound / raw : 1;
  let outSq = 0;
  const tensors = sent.map(({ name, shape, g, w }) => {
    const data = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) {
      data[i] = clipped ? g[i]! + (w[i]! - g[i]!) * scale : w[i]!;
      const d = data[i]! - g[i]!;
      outSq += d * d;
    }
    return { name, shape, data };
  });
  return { tensors, norm: Math.sqrt(outSq), clipped };
}
