/**
 * The round engine: tasks, rounds, updates and the adapter registry, all state in the database
 * so a restarted server resumes where it stopped (after NVIDIA FLARE's resumable server state).
 *
 * Round states and transitions:
 *   open ──first accepted update──▶ collecting ──quorum and (deadline or everyone in)──▶ aggregating ──▶ closed
 *   open/collecting ──deadline without quorum──▶ failed            aggregating ──error──▶ failed
 * After `closed` or `failed` the next round opens from the task's latest global adapter.
 *
 * Crash safety: an update's blob is durable (fsync + rename) before the row accepting it commits,
 * and the row's UNIQUE(round, institution) means a retry is recognised, never counted twice.
 * Aggregation is deterministic from committed rows and blobs, and its result is published in one
 * transaction, so a crash during `aggregating` simply re-runs it on restart.
 *
 * Replicas (several processes on one PostgreSQL): only the leader (./leader.ts) ticks, but every
 * transition is still conditional (`UPDATE … WHERE state … RETURNING`, or under the round's row
 * lock), so a deposed leader still finishing a round cannot close, fail or reopen it a second
 * time. Accepting an update locks its round row, so an update is either in the set the
 * aggregator reads or refused as late, never acknowledged and then left out.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import {
  adapterTensorSpecs,
  initialAdapter,
  KNOWN_TARGET_MODULES,
  parameterCount,
  type TensorSpec,
} from '../../src/protocol/lora.ts';
import { encodeAdapter } from '../../src/protocol/adapter-codec.ts';
import { encodeHeader, writeSafetensors } from '../../src/protocol/safetensors.ts';
import {
  ADAPTER_META,
  type AdapterVersion,
  type CreateTaskRequest,
  type FitInstructions,
  type RegistryEntry,
  type RoundDetail,
  type RoundState,
  type Task,
  type TaskState,
  type UpdateReceipt,
  type WorkResponse,
} from '../../src/protocol/schemas.ts';
import { toBase64Url } from '../../src/protocol/base64url.ts';
import { createStrategy, type Strategy, type Tensors, type UpdateSource } from './aggregation/strategies.ts';
import { openSafetensors, readAdapterFile, type SafetensorsFile } from './adapter-files.ts';
import { appendAudit } from './audit.ts';
import { aggregationWeight, requireMember } from './membership.ts';
import { recordCandidate } from './releases.ts';
import { checkTaskPolicy, minCohort } from './task-policy.ts';
import {
  isSecure,
  loadBudget,
  secureTask,
  SecureRounds,
  type SecureRoundRef,
  type SecureTask,
} from './secure-rounds.ts';
import type { PrivacyBudgetView, SecureRoundView } from '../../src/protocol/secure-round.ts';
import { DureError } from '../../src/protocol/errors.ts';
import { ConflictError, FederatedError, NotFoundError } from './errors.ts';
import type { Metrics } from './metrics.ts';
import type { BlobStore } from './storage/blobs.ts';
import type { SealedFile } from './storage/sealed.ts';
import type { Database, Queryable } from './storage/db.ts';
import { validateUpdateFile } from './update-validation.ts';
import { BoundedFiles } from './aggregation/bounded-files.ts';
import {
  exhaustedResource,
  ResourceFaults,
  type BackoffOptions,
  type ResourceFault,
} from './storage/resource-faults.ts';

/** Rounds failing in a row before the task itself is marked failed. */
export const MAX_CONSECUTIVE_FAILURES = 3;
/** Largest adapter a task may declare (float32 values): 64 Mi values = 256 MiB. */
export const MAX_ADAPTER_PARAMETERS = 64 * 1024 * 1024;

interface TaskRow {
  id: string;
  name: string;
  spec: string;
  state: TaskState;
  completed_rounds: number;
  consecutive_failures: number;
  latest_version: number;
  created_at: number;
}
interface RoundRow {
  id: number;
  task_id: string;
  number: number;
  state: RoundState;
  global_version: number;
  opened_at: number;
  deadline_at: number;
  closed_at: number | null;
  failure_reason: string | null;
  metrics: string | null;
}
interface UpdateRow {
  id: number;
  round_id: number;
  institution_id: string;
  /** Kept only while the round is open (recognises a retried upload); cleared when it ends. */
  sha256: string | null;
  /** The sealed upload's random blob name; cleared (and the blob deleted) when the round ends. */
  blob: string | null;
  num_examples: number;
  train_loss: number | null;
  eval_loss: number | null;
  norm: number;
  status: 'accepted' | 'revoked';
  received_at: number;
}
interface VersionRow {
  task_id: string;
  version: number;
  parent_version: number | null;
  round: number | null;
  sha256: string;
  state_sha256: string | null;
  participants: string;
  metrics: string;
  created_at: number;
}

/** What the engine knows about a task beyond its row, derived once. */
interface TaskContext {
  spec: CreateTaskRequest;
  strategy: Strategy;
  /** Tensors clients send (all, or lora_B only in FFA-LoRA). */
  trained: TensorSpec[];
  /** Upper bound on an upload's size in bytes. */
  maxUploadBytes: number;
  /** The secure-aggregation side, for tasks that run under it. */
  secure: SecureTask | null;
}

export interface CoordinatorOptions {
  /**
   * Update files aggregation keeps open at once, whatever the number of participants (default
   * 32): descriptors stay bounded independent of N (./aggregation/bounded-files.ts).
   */
  maxOpenUpdateFiles?: number;
  /** Backoff between retries of aggregation that ran out of disk or descriptors. */
  resourceBackoff?: BackoffOptions;
}

export interface RoundEvent {
  taskId: string;
  round: number;
  state: RoundState;
}

const iso = (ms: number) => new Date(ms).toISOString();
/** The key of a round's pending aggregation in the resource-fault tracker. */
const aggregationKey = (roundId: number) => `aggregate:${roundId}`;

function toTask(r: TaskRow): Task {
  const spec = JSON.parse(r.spec) as CreateTaskRequest;
  return {
    ...spec,
    id: r.id,
    state: r.state,
    completedRounds: r.completed_rounds,
    latestVersion: r.latest_version,
    createdAt: iso(r.created_at),
  };
}

function toVersion(r: VersionRow): AdapterVersion {
  return {
    taskId: r.task_id,
    version: r.version,
    parentVersion: r.parent_version,
    round: r.round,
    sha256: r.sha256,
    participants: JSON.parse(r.participants) as string[],
    metrics: JSON.parse(r.metrics) as Record<string, number>,
    createdAt: iso(r.created_at),
  };
}

export class Coordinator extends EventEmitter<{ round: [RoundEvent]; resourceFault: [ResourceFault] }> {
  private readonly contexts = new Map<string, TaskContext>();
  /** Aggregations waiting for disk space or descriptors, keyed by round: readiness reports them. */
  readonly resourceFaults: ResourceFaults;
  private readonly maxOpenUpdateFiles: number;
  private readonly globals = new Map<string, { version: number; tensors: Promise<Tensors> }>();
  private ticking: Promise<void> | undefined;
  private readonly secure: SecureRounds;

  constructor(
    private readonly db: Database,
    private readonly blobs: BlobStore,
    private readonly metrics: Metrics,
    opts: CoordinatorOptions = {},
    /** Whether this process leads (./leader.ts); a follower never ticks on its own. */
    private readonly leads: () => boolean = () => true,
  ) {
    super();
    this.secure = new SecureRounds(blobs);
    this.resourceFaults = new ResourceFaults(opts.resourceBackoff);
    this.maxOpenUpdateFiles = opts.maxOpenUpdateFiles ?? 32;
  }

  // ── tasks ────────────────────────────────────────────────────────────────────────────────

  private context(taskId: string, spec: CreateTaskRequest): TaskContext {
    let c = this.contexts.get(taskId);
    if (!c) {
      const strategy = createStrategy(spec.strategy);
      const trainA = strategy.configureFit(1).trainA;
      const trained = adapterTensorSpecs(spec.modelShape, spec.lora, { a: trainA, b: true });
      // Header size is bounded by the tensor table plus a little metadata.
      const { header } = encodeHeader(trained, { pad: 'x'.repeat(4096) });
      const maxUploadBytes = header.byteLength + parameterCount(trained) * 4;
      c = {
        spec,
        strategy,
        trained,
        maxUploadBytes,
        secure: isSecure(spec) ? secureTask(taskId, spec, trained) : null,
      };
      this.contexts.set(taskId, c);
    }
    return c;
  }

  private async taskRow(q: Queryable, taskId: string, lock = false): Promise<TaskRow> {
    const [t] = await q.query<TaskRow>(`SELECT * FROM tasks WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [
      taskId,
    ]);
    if (!t) throw new NotFoundError(`no task ${taskId}`);
    return t;
  }

  /**
   * Creates a task and its version-0 adapter (seeded A, zero B).
   * @throws {FederatedError} INVALID_TASK if the LoRA config does not fit the model shape or is too large.
   */
  async createTask(request: CreateTaskRequest, actor = 'admin'): Promise<Task> {
    const spec = checkTaskPolicy(request);
    if (isSecure(spec)) {
      try {
        const trainA = createStrategy(spec.strategy).configureFit(1).trainA;
        secureTask(
          'task_check',
          spec,
          adapterTensorSpecs(spec.modelShape, spec.lora, { a: trainA, b: true }),
        );
      } catch (err) {
        if (err instanceof DureError && !(err instanceof FederatedError))
          throw new FederatedError(err.code, 400, err.message);
        throw err;
      }
    }
    for (const m of spec.lora.targetModules) {
      if (!KNOWN_TARGET_MODULES.includes(m))
        throw new FederatedError('INVALID_TASK', 400, `unknown target module ${m}`);
      if (!spec.modelShape.modules[m])
        throw new FederatedError('INVALID_TASK', 400, `modelShape has no dimensions for ${m}`);
    }
    const params = parameterCount(adapterTensorSpecs(spec.modelShape, spec.lora));
    if (params > MAX_ADAPTER_PARAMETERS) {
      throw new FederatedError(
        'INVALID_TASK',
        400,
        `adapter of ${params} parameters exceeds ${MAX_ADAPTER_PARAMETERS}`,
      );
    }
    const id = `task_${toBase64Url(randomBytes(9))}`;
    // Every published adapter file states its LoRA config (ADAPTER_META), written by the codec.
    const bytes = encodeAdapter(initialAdapter(spec.modelShape, spec.lora), {
      config: spec.lora,
      metadata: { [ADAPTER_META.task]: id, [ADAPTER_META.version]: '0' },
    });
    const sha = await this.blobs.put(bytes);
    const row = await this.db.transaction(async (tx) => {
      const now = Date.now();
      const [t] = await tx.query<TaskRow>(
        `INSERT INTO tasks (id, name, spec, state, created_at) VALUES ($1, $2, $3, 'created', $4) RETURNING *`,
        [id, spec.name, JSON.stringify(spec), now],
      );
      await tx.query(
        // Version 0 (B = 0, the base model unchanged) is the first stable release.
        `INSERT INTO adapter_versions (task_id, version, parent_version, round, sha256, participants, metrics, created_at, release_state)
         VALUES ($1, 0, NULL, NULL, $2, '[]', '{}', $3, 'published')`,
        [id, sha, now],
      );
      await appendAudit(tx, 'task.created', actor, {
        taskId: id,
        name: spec.name,
        strategy: spec.strategy.name,
        initialSha256: sha,
      });
      return t!;
    });
    return toTask(row);
  }

  async listTasks(): Promise<Task[]> {
    return (await this.db.query<TaskRow>('SELECT * FROM tasks ORDER BY created_at')).map(toTask);
  }

  async getTask(taskId: string): Promise<Task> {
    return toTask(await this.taskRow(this.db, taskId));
  }

  /**
   * Starts a created task by opening its first round.
   * @throws {NotFoundError} for an unknown task; {ConflictError} if it was already started.
   */
  async startTask(taskId: string, actor = 'admin'): Promise<Task> {
    const events: RoundEvent[] = [];
    const task = await this.db.transaction(async (tx) => {
      const t = await this.taskRow(tx, taskId, true);
      if (t.state !== 'created')
        throw new ConflictError(`task ${taskId} is ${t.state}`, 'TASK_NOT_STARTABLE');
      await tx.query(`UPDATE tasks SET state = 'running' WHERE id = $1`, [taskId]);
      await appendAudit(tx, 'task.started', actor, { taskId });
      events.push(await this.openRound(tx, t, 1));
      return this.taskRow(tx, taskId);
    });
    events.forEach((e) => this.emit('round', e));
    return toTask(task);
  }

  /**
   * Moves a failed task back to running. A round still in progress (one whose aggregation kept
   * waiting for disk, say) goes on with the updates it holds; otherwise the next round opens from
   * the task's latest global adapter. Its count of failed rounds starts again from zero.
   * @throws {NotFoundError} for an unknown task; {ConflictError} TASK_NOT_RESUMABLE unless it failed.
   */
  async resumeTask(taskId: string, actor = 'admin'): Promise<Task> {
    const events: RoundEvent[] = [];
    const task = await this.db.transaction(async (tx) => {
      const t = await this.taskRow(tx, taskId);
      if (t.state !== 'failed')
        throw new ConflictError(`task ${taskId} is ${t.state}, not failed`, 'TASK_NOT_RESUMABLE');
      await tx.query(
        `UPDATE tasks SET state = 'running', consecutive_failures = 0 WHERE id = $1 AND state = 'failed'`,
        [taskId],
      );
      const r = await this.currentRound(tx, taskId);
      const goesOn = r !== undefined && r.state !== 'closed' && r.state !== 'failed';
      const [{ n } = { n: 0 }] = goesOn
        ? await tx.query<{ n: number }>(
            `SELECT count(*)::integer AS n FROM updates WHERE round_id = $1 AND status = 'accepted'`,
            [r.id],
          )
        : [];
      await appendAudit(tx, 'task.resumed', actor, {
        taskId,
        round: goesOn ? r.number : (r?.number ?? 0) + 1,
        keptUpdates: n,
      });
      if (!goesOn) events.push(await this.openRound(tx, t, (r?.number ?? 0) + 1));
      return this.taskRow(tx, taskId);
    });
    events.forEach((e) => this.emit('round', e));
    void this.tick().catch(() => undefined); // a round kept in `aggregating` is retried now
    return toTask(task);
  }

  private async openRound(tx: Queryable, t: TaskRow, number: number): Promise<RoundEvent> {
    const spec = JSON.parse(t.spec) as CreateTaskRequest;
    const now = Date.now();
    const deadlineAt = now + spec.roundDeadlineSeconds * 1000;
    const [row] = await tx.query<{ id: number }>(
      `INSERT INTO rounds (task_id, number, state, global_version, opened_at, deadline_at) VALUES ($1, $2, 'open', $3, $4, $5) RETURNING id`,
      [t.id, number, t.latest_version, now, deadlineAt],
    );
    if (isSecure(spec)) await this.secure.open(tx, { id: row!.id, taskId: t.id, number, deadlineAt });
    await appendAudit(tx, 'round.opened', 'server', {
      taskId: t.id,
      round: number,
      globalVersion: t.latest_version,
    });
    return { taskId: t.id, round: number, state: 'open' };
  }

  private async currentRound(q: Queryable, taskId: string): Promise<RoundRow | undefined> {
    const [r] = await q.query<RoundRow>(
      'SELECT * FROM rounds WHERE task_id = $1 ORDER BY number DESC LIMIT 1',
      [taskId],
    );
    return r;
  }

  // ── clients ──────────────────────────────────────────────────────────────────────────────

  /** What an institution should do now for a task (Flower's configure_fit, pulled). */
  async getWork(institutionId: string, taskId: string): Promise<WorkResponse> {
    const t = await this.taskRow(this.db, taskId);
    await requireMember(this.db, institutionId, taskId);
    const r = t.state === 'running' ? await this.currentRound(this.db, taskId) : undefined;
    if (!r) return { taskState: t.state, round: null, instructions: null, submitted: false };
    const ctx = this.context(t.id, JSON.parse(t.spec) as CreateTaskRequest);
    // Under secure aggregation "submitted" means keys advertised: the rest runs on the secure view.
    const [mine] = ctx.secure
      ? await this.db.query<{ id: number }>(
          'SELECT round_id AS id FROM secure_messages WHERE round_id = $1 AND institution_id = $2',
          [r.id, institutionId],
        )
      : await this.db.query<{ id: number }>(
          `SELECT id FROM updates WHERE round_id = $1 AND institution_id = $2 AND status = 'accepted'`,
          [r.id, institutionId],
        );
    const [global] = await this.db.query<{ sha256: string }>(
      'SELECT sha256 FROM adapter_versions WHERE task_id = $1 AND version = $2',
      [taskId, r.global_version],
    );
    const fit = ctx.strategy.configureFit(r.number);
    const accepting =
      (r.state === 'open' || r.state === 'collecting') &&
      (!ctx.secure ||
        (await this.secure.view(this.db, this.secureRef(taskId, r), institutionId)).phase === 'advertise');
    const instructions: FitInstructions | null = accepting
      ? {
          taskId,
          round: r.number,
          globalVersion: r.global_version,
          globalSha256: global!.sha256,
          localEpochs: ctx.spec.localEpochs,
          localSteps: ctx.spec.localSteps,
          proximalMu: fit.proximalMu,
          trainA: fit.trainA,
          maxUpdateNorm: ctx.spec.maxUpdateNorm,
          deadline: iso(r.deadline_at),
          ...(ctx.secure ? { secure: ctx.secure.fit(r.number) } : {}),
        }
      : null;
    return {
      taskState: t.state,
      round: { number: r.number, state: r.state, deadline: iso(r.deadline_at) },
      instructions,
      submitted: Boolean(mine),
    };
  }

  private secureRef(taskId: string, r: RoundRow): SecureRoundRef {
    return { id: r.id, taskId, number: r.number, deadlineAt: r.deadline_at };
  }

  /** The member's current secure round, or a typed refusal. */
  private async secureRound(institutionId: string, taskId: string, roundNumber: number) {
    const t = await this.taskRow(this.db, taskId);
    await requireMember(this.db, institutionId, taskId);
    const ctx = this.context(t.id, JSON.parse(t.spec) as CreateTaskRequest);
    if (!ctx.secure)
      throw new FederatedError('SECAGG_REFUSED', 409, 'this task does not run under secure aggregation');
    const r = t.state === 'running' ? await this.currentRound(this.db, taskId) : undefined;
    if (!r || r.number !== roundNumber)
      throw new ConflictError(
        `round ${roundNumber} is not the task's current round`,
        r && roundNumber < r.number ? 'LATE_UPDATE' : 'WRONG_ROUND',
      );
    return { ctx, r, ref: this.secureRef(taskId, r) };
  }

  /** The member's view of a secure round's phases. */
  async secureView(institutionId: string, taskId: string, roundNumber: number): Promise<SecureRoundView> {
    const t = await this.taskRow(this.db, taskId);
    await requireMember(this.db, institutionId, taskId);
    const [r] = await this.db.query<RoundRow>('SELECT * FROM rounds WHERE task_id = $1 AND number = $2', [
      taskId,
      roundNumber,
    ]);
    if (!r || !this.context(t.id, JSON.parse(t.spec) as CreateTaskRequest).secure)
      throw new NotFoundError(`no secure round ${roundNumber}`);
    return this.secure.view(this.db, this.secureRef(taskId, r), institutionId);
  }

  /**
   * One phase message of a secure round (advertise keys, share keys, unmask) from a member.
   * @throws {ConflictError} when the phase is over or the round is not current; {FederatedError}
   *   SECAGG_REFUSED for a message that breaks the protocol.
   */
  async secureMessage(
    institutionId: string,
    taskId: string,
    roundNumber: number,
    phase: 'advertise' | 'share' | 'unmask',
    body: unknown,
  ): Promise<void> {
    const { r, ref } = await this.secureRound(institutionId, taskId, roundNumber);
    let opened = false;
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT id FROM rounds WHERE id = $1 FOR UPDATE', [r.id]); // vs the leader's phase step
      if (phase === 'advertise') {
        await this.secure.advertise(tx, ref, institutionId, body);
        if (r.state === 'open') {
          await tx.query(`UPDATE rounds SET state = 'collecting' WHERE id = $1 AND state = 'open'`, [r.id]);
          opened = true;
        }
        await appendAudit(tx, 'round.joined', institutionId, { taskId, round: r.number });
      } else if (phase === 'share') await this.secure.share(tx, ref, institutionId, body);
      else await this.secure.unmask(tx, ref, institutionId, body);
    });
    if (opened) this.emit('round', { taskId, round: r.number, state: 'collecting' });
    this.nudge(); // everyone may be in: move to the next phase now
  }

  /** Bytes a masked input may have in the member's current secure round (0: none accepted now). */
  async maskedInputLimit(institutionId: string, taskId: string, roundNumber: number): Promise<number> {
    const { ref } = await this.secureRound(institutionId, taskId, roundNumber);
    return this.secure.maskLimit(this.db, ref);
  }

  /** A masked input (temp file, consumed) from a member in the mask phase. */
  async secureMaskedInput(
    institutionId: string,
    taskId: string,
    roundNumber: number,
    upload: { path: string; size: number },
  ): Promise<void> {
    try {
      const { r, ref } = await this.secureRound(institutionId, taskId, roundNumber);
      await this.db.transaction(async (tx) => {
        await tx.query('SELECT id FROM rounds WHERE id = $1 FOR UPDATE', [r.id]); // vs the leader's phase step
        await this.secure.mask(tx, ref, institutionId, upload);
      });
    } finally {
      await rm(upload.path, { force: true });
    }
    this.nudge();
  }

  /** A task's differential-privacy budget: target, spent and left (null without DP). */
  async privacyBudget(taskId: string): Promise<PrivacyBudgetView | null> {
    const t = await this.taskRow(this.db, taskId);
    const ctx = this.context(t.id, JSON.parse(t.spec) as CreateTaskRequest);
    const plan = ctx.secure?.plan;
    if (!plan) return null;
    const [row] = await this.db.query<{ state: string }>(
      'SELECT state FROM privacy_budgets WHERE task_id = $1',
      [taskId],
    );
    const budget = loadBudget(plan, row?.state ?? null);
    return {
      epsilon: plan.target.epsilon,
      delta: plan.target.delta,
      epsilonSpent: budget.epsilonSpent(),
      epsilonLeft: budget.epsilonLeft(),
      roundsRun: budget.roundsRun,
      roundsLeft: budget.roundsLeft(),
      noiseStdPerCoordinate: Math.sqrt(plan.centralVariance) / plan.quantization.scale,
    };
  }

  /**
   * Refuses an institution that is not a member of the task exactly as an unknown task.
   * @throws {NotFoundError} for an unknown task or a non-member.
   */
  async requireMember(institutionId: string, taskId: string): Promise<void> {
    await this.taskRow(this.db, taskId);
    await requireMember(this.db, institutionId, taskId);
  }

  /** Running tasks an institution is a member of. */
  async memberTasks(institutionId: string): Promise<Task[]> {
    const rows = await this.db.query<TaskRow>(
      `SELECT t.* FROM tasks t JOIN task_members m ON m.task_id = t.id
       WHERE m.institution_id = $1 AND t.state = 'running' ORDER BY t.created_at`,
      [institutionId],
    );
    return rows.map(toTask);
  }

  /** Largest upload a member may send for a task (bounds the request body before reading it). */
  async uploadLimit(institutionId: string, taskId: string): Promise<number> {
    const t = await this.taskRow(this.db, taskId);
    await requireMember(this.db, institutionId, taskId);
    return this.context(t.id, JSON.parse(t.spec) as CreateTaskRequest).maxUploadBytes;
  }

  private globalTensors(ctx: TaskContext, taskId: string, version: number, sha: string): Promise<Tensors> {
    const cached = this.globals.get(taskId);
    if (cached?.version === version) return cached.tensors;
    const tensors = this.blobs
      .openBlob(sha)
      .then((f) => readAdapterFile(f, { specs: adapterTensorSpecs(ctx.spec.modelShape, ctx.spec.lora) }));
    tensors.catch(() => this.globals.delete(taskId));
    this.globals.set(taskId, { version, tensors }); // one adapter per task in memory
    return tensors;
  }

  /**
   * Validates and accepts one update. The upload is a complete temp file whose SHA-256 is known;
   * it is consumed (moved into the blob store or deleted).
   * @throws {UpdateRejectedError} when validation fails; {ConflictError} for late, duplicate or
   * wrong-round updates; {NotFoundError} for an unknown task.
   */
  async submitUpdate(
    institutionId: string,
    taskId: string,
    roundNumber: number,
    upload: { path: string; sha256: string },
    receivedAt: number = Date.now(),
  ): Promise<UpdateReceipt> {
    let consumed = false;
    try {
      const t = await this.taskRow(this.db, taskId);
      await requireMember(this.db, institutionId, taskId);
      const ctx = this.context(t.id, JSON.parse(t.spec) as CreateTaskRequest);
      if (ctx.secure)
        throw new FederatedError(
          'SECAGG_REFUSED',
          409,
          'this task runs under secure aggregation: plaintext updates are never accepted',
        );
      const r = t.state === 'running' ? await this.currentRound(this.db, taskId) : undefined;
      const [existing] = r
        ? await this.db.query<UpdateRow>(
            'SELECT * FROM updates WHERE round_id = $1 AND institution_id = $2',
            [r.id, institutionId],
          )
        : [];
      if (r && r.number === roundNumber && existing)
        return this.duplicateOf(existing, upload.sha256, r.number);
      if (!r || r.number !== roundNumber) {
        throw new ConflictError(
          `round ${roundNumber} is not the task's current round`,
          r && roundNumber < r.number ? 'LATE_UPDATE' : 'WRONG_ROUND',
        );
      }
      if ((r.state !== 'open' && r.state !== 'collecting') || receivedAt > r.deadline_at) {
        throw new ConflictError(`round ${roundNumber} no longer accepts updates`, 'LATE_UPDATE');
      }
      const [g] = await this.db.query<{ sha256: string }>(
        'SELECT sha256 FROM adapter_versions WHERE task_id = $1 AND version = $2',
        [taskId, r.global_version],
      );
      const global = await this.globalTensors(ctx, taskId, r.global_version, g!.sha256);
      const v = await validateUpdateFile(upload.path, ctx.trained, global, {
        round: r.number,
        maxNorm: ctx.spec.maxUpdateNorm,
      });
      // Sealed and durable (under a random name) before the row that accepts it commits.
      const blob = await this.blobs.commitTemp(upload.path);
      consumed = true;
      const receipt = await this.db
        .transaction(async (tx) => {
          // The row lock orders this against the aggregator's `aggregating` transition (and other
          // replicas accepting for the same round): once it commits, no update joins the round.
          const [fresh] = await tx.query<RoundRow>('SELECT * FROM rounds WHERE id = $1 FOR UPDATE', [r.id]);
          if (!fresh || (fresh.state !== 'open' && fresh.state !== 'collecting')) {
            throw new ConflictError(
              `round ${roundNumber} closed while the update was validated`,
              'LATE_UPDATE',
            );
          }
          const [inst] = await tx.query<{ status: string }>('SELECT status FROM institutions WHERE id = $1', [
            institutionId,
          ]);
          if (inst?.status !== 'active') throw new ConflictError('institution is not active', 'REVOKED');
          await requireMember(tx, institutionId, taskId); // removed while the update was validated
          const [dup] = await tx.query<UpdateRow>(
            'SELECT * FROM updates WHERE round_id = $1 AND institution_id = $2',
            [r.id, institutionId],
          );
          if (dup) return this.duplicateOf(dup, upload.sha256, r.number);
          const [row] = await tx.query<{ id: number }>(
            `INSERT INTO updates (round_id, institution_id, sha256, blob, num_examples, train_loss, eval_loss, norm, status, received_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'accepted', $9) RETURNING id`,
            [
              r.id,
              institutionId,
              upload.sha256,
              blob,
              v.numExamples,
              v.trainLoss,
              v.evalLoss,
              v.norm,
              receivedAt,
            ],
          );
          if (fresh.state === 'open')
            await tx.query(`UPDATE rounds SET state = 'collecting' WHERE id = $1 AND state = 'open'`, [r.id]);
          // That it took part, nothing that links the content (the hash chain keeps entries forever).
          await appendAudit(tx, 'update.accepted', institutionId, {
            taskId,
            round: r.number,
            updateId: row!.id,
          });
          return {
            updateId: row!.id,
            round: r.number,
            sha256: upload.sha256,
            duplicate: false,
            opened: fresh.state === 'open',
          };
        })
        .catch(async (err: unknown) => {
          await this.blobs.delete(blob); // refused after sealing: keep nothing
          throw err;
        });
      if (receipt.duplicate) await this.blobs.delete(blob);
      if (receipt.opened) this.emit('round', { taskId, round: r.number, state: 'collecting' });
      if (!receipt.duplicate) this.metrics.updatesAccepted.inc();
      this.nudge(); // everyone may be in: close early
      return {
        updateId: receipt.updateId,
        round: receipt.round,
        sha256: receipt.sha256,
        duplicate: receipt.duplicate,
      };
    } catch (err) {
      if (err instanceof FederatedError)
        await this.recordRejection(institutionId, taskId, roundNumber, upload.sha256, err);
      throw err;
    } finally {
      if (!consumed) await rm(upload.path, { force: true });
    }
  }

  private duplicateOf(existing: UpdateRow, sha: string, round: number): UpdateReceipt & { opened: false } {
    if (existing.sha256 !== sha || existing.status !== 'accepted') {
      throw new ConflictError(
        `an update for round ${round} was already received from this institution`,
        'DUPLICATE_UPDATE',
      );
    }
    return { updateId: existing.id, round, sha256: sha, duplicate: true, opened: false };
  }

  private async recordRejection(
    institutionId: string,
    taskId: string,
    round: number,
    sha256: string,
    err: FederatedError,
  ) {
    this.metrics.updatesRejected.inc({ reason: err.code });
    await this.db
      .transaction((tx) =>
        appendAudit(tx, 'update.rejected', institutionId, {
          taskId,
          round,
          sha256,
          reason: err.code,
          message: err.message,
        }),
      )
      .catch(() => undefined); // the refusal itself stands even if the audit write fails (e.g. shutting down)
  }

  // ── round progression ────────────────────────────────────────────────────────────────────

  /**
   * Advances every running task's current round: closes at quorum + deadline (or when every active
   * institution has submitted), fails rounds whose deadline passed without quorum, and resumes
   * rounds a crash left in `aggregating`. Calls are serialised.
   */
  tick(now?: number): Promise<void> {
    const run = (this.ticking ?? Promise.resolve()).then(() => this.tickOnce(now ?? Date.now()));
    this.ticking = run.catch(() => undefined);
    return run;
  }

  /** A tick now, if this process leads; followers leave rounds to the leader's timer. */
  private nudge(): void {
    if (this.leads()) void this.tick();
  }

  private async tickOnce(now: number): Promise<void> {
    const running = await this.db.query<TaskRow>(
      `SELECT * FROM tasks WHERE state = 'running' ORDER BY created_at`,
    );
    await this.purgeEndedUploads(); // after a crash between a round's end and its purge
    for (const t of running) {
      const [{ n: activeMembers } = { n: 0 }] = await this.db.query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM task_members m JOIN institutions i ON i.id = m.institution_id
         WHERE m.task_id = $1 AND i.status = 'active'`,
        [t.id],
      );
      const r = await this.currentRound(this.db, t.id);
      if (!r) continue;
      const spec = JSON.parse(t.spec) as CreateTaskRequest;
      if (r.state === 'aggregating') {
        if (!this.resourceFaults.waiting(aggregationKey(r.id), now)) await this.aggregate(t.id, r.id);
        continue;
      }
      if (r.state !== 'open' && r.state !== 'collecting') continue;
      const ctx = this.context(t.id, spec);
      if (ctx.secure) {
        const step = await this.db.transaction(async (tx) => {
          await tx.query('SELECT id FROM rounds WHERE id = $1 FOR UPDATE', [r.id]);
          return this.secure.advance(tx, this.secureRef(t.id, r), ctx.secure!, activeMembers, now);
        });
        if (step === 'aggregate') await this.aggregate(t.id, r.id);
        else if (step !== 'wait') await this.failRound(t.id, r.id, step.fail);
        continue;
      }
      const [{ n } = { n: 0 }] = await this.db.query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM updates WHERE round_id = $1 AND status = 'accepted'`,
        [r.id],
      );
      const quorum = n >= minCohort(spec);
      if (quorum && (now >= r.deadline_at || n >= activeMembers)) await this.aggregate(t.id, r.id);
      else if (now >= r.deadline_at)
        await this.failRound(t.id, r.id, `quorum not reached: ${n} of ${minCohort(spec)} updates`);
    }
  }

  private async failRound(taskId: string, roundId: number, reason: string): Promise<void> {
    this.resourceFaults.clear(aggregationKey(roundId)); // a round that ends waits for nothing
    const events: RoundEvent[] = [];
    const failed = await this.db.transaction(async (tx) => {
      // Conditional: of two processes failing the same round, one does it; the other finds no row.
      const [r] = await tx.query<RoundRow>(
        `UPDATE rounds SET state = 'failed', closed_at = $2, failure_reason = $3
         WHERE id = $1 AND state NOT IN ('closed', 'failed') RETURNING *`,
        [roundId, Date.now(), reason],
      );
      if (!r) return false;
      const t = await this.taskRow(tx, taskId, true);
      await appendAudit(tx, 'round.failed', 'server', { taskId, round: r.number, reason });
      events.push({ taskId, round: r.number, state: 'failed' });
      const failures = t.consecutive_failures + 1;
      if (failures >= MAX_CONSECUTIVE_FAILURES) {
        await tx.query(`UPDATE tasks SET state = 'failed', consecutive_failures = $2 WHERE id = $1`, [
          taskId,
          failures,
        ]);
        await appendAudit(tx, 'task.failed', 'server', {
          taskId,
          reason: `${failures} rounds failed in a row`,
        });
      } else {
        await tx.query(`UPDATE tasks SET consecutive_failures = $2 WHERE id = $1`, [taskId, failures]);
        events.push(await this.openRound(tx, t, r.number + 1)); // from the last global adapter
      }
      return true;
    });
    if (!failed) return; // already ended, by this process or another
    this.metrics.rounds.inc({ outcome: 'failed' });
    await this.secure.fail(this.db, roundId, reason);
    await this.purgeUploads(roundId);
    events.forEach((e) => this.emit('round', e));
  }

  /**
   * Retention: once a round is over (aggregated or failed) its individual uploads are deleted and
   * their rows keep no hash that links content. Idempotent.
   */
  private async purgeUploads(roundId: number): Promise<void> {
    const rows = await this.db.query<{ id: number; blob: string | null }>(
      'SELECT id, blob FROM updates WHERE round_id = $1 AND (blob IS NOT NULL OR sha256 IS NOT NULL)',
      [roundId],
    );
    for (const u of rows) if (u.blob) await this.blobs.delete(u.blob);
    if (rows.length)
      await this.db.query('UPDATE updates SET blob = NULL, sha256 = NULL WHERE round_id = $1', [roundId]);
    await this.secure.discard(this.db, roundId); // masked inputs, keys, ciphertexts and shares
  }

  private async purgeEndedUploads(): Promise<void> {
    const ended = await this.db.query<{ id: number }>(
      `SELECT DISTINCT r.id FROM rounds r JOIN updates u ON u.round_id = r.id
       WHERE r.state IN ('closed', 'failed') AND (u.blob IS NOT NULL OR u.sha256 IS NOT NULL)
       UNION SELECT DISTINCT r.id FROM rounds r JOIN secure_messages m ON m.round_id = r.id
       WHERE r.state IN ('closed', 'failed')`,
    );
    for (const r of ended) await this.purgeUploads(r.id);
  }

  private async aggregate(taskId: string, roundId: number): Promise<void> {
    const started = performance.now();
    const [r0] = await this.db.query<RoundRow>('SELECT * FROM rounds WHERE id = $1', [roundId]);
    if (!r0 || r0.state === 'closed' || r0.state === 'failed') return;
    if (r0.state !== 'aggregating') {
      // Conditional, and it waits for the row locks of updates being accepted: after it commits
      // the set of updates is final. Nobody else moved it: resume; someone ended it: done.
      const moved = await this.db.transaction(async (tx) => {
        const [r] = await tx.query<{ id: number }>(
          `UPDATE rounds SET state = 'aggregating' WHERE id = $1 AND state IN ('open', 'collecting') RETURNING id`,
          [roundId],
        );
        if (r) await appendAudit(tx, 'round.aggregating', 'server', { taskId, round: r0.number });
        return r !== undefined;
      });
      if (moved) this.emit('round', { taskId, round: r0.number, state: 'aggregating' });
      else {
        const [now] = await this.db.query<{ state: string }>('SELECT state FROM rounds WHERE id = $1', [
          roundId,
        ]);
        if (now?.state !== 'aggregating') return;
      }
    }
    const t = await this.taskRow(this.db, taskId);
    const ctx = this.context(taskId, JSON.parse(t.spec) as CreateTaskRequest);
    const updates = await this.db.query<UpdateRow>(
      `SELECT * FROM updates WHERE round_id = $1 AND status = 'accepted' ORDER BY id`,
      [roundId],
    );
    const [parent] = await this.db.query<VersionRow>(
      'SELECT * FROM adapter_versions WHERE task_id = $1 AND version = $2',
      [taskId, r0.global_version],
    );
    // Under secure aggregation the round's contributors are those whose masked input is in the sum.
    const participants = ctx.secure
      ? await this.secure.contributors(this.db, roundId)
      : updates.map((u) => u.institution_id);
    if (!ctx.secure && updates.length < minCohort(ctx.spec)) {
      // Possible when revocations withdrew updates after quorum was counted.
      await this.failRound(
        taskId,
        roundId,
        `quorum lost: ${updates.length} of ${minCohort(ctx.spec)} updates remain`,
      );
      return;
    }
    // Update files open on demand, at most maxOpenUpdateFiles at once, whatever the cohort's size.
    const plain = ctx.secure ? [] : updates;
    const files = new BoundedFiles<SafetensorsFile>(async (i) => {
      const blob = plain[i]!.blob;
      if (!blob) throw new Error(`update ${plain[i]!.id} has no stored upload`);
      return openSafetensors(await this.blobs.openBlob(blob));
    }, this.maxOpenUpdateFiles);
    let adapterSha: string;
    let stateSha: string | null = null;
    let metrics: Record<string, number>;
    try {
      // Weights are never the client's own word: equal, or capped by the admin on the membership.
      const caps = new Map(
        (
          await this.db.query<{ institution_id: string; max_weight: number | null }>(
            'SELECT institution_id, max_weight FROM task_members WHERE task_id = $1',
            [taskId],
          )
        ).map((m) => [m.institution_id, m.max_weight]),
      );
      const sources: UpdateSource[] = [];
      let secureMetrics: Record<string, number> | null = null;
      if (ctx.secure) {
        const global = await this.globalTensors(ctx, taskId, r0.global_version, parent!.sha256);
        const { mean, survivors, dropped } = await this.secure.unmaskedMean(
          this.db,
          this.secureRef(taskId, r0),
          ctx.trained,
        );
        let sq = 0;
        for (const d of mean.values()) for (const x of d) sq += x * x;
        secureMetrics = { participants: survivors, dropped, meanUpdateNorm: Math.sqrt(sq) };
        // One source, the mean of the survivors (noise included): the strategy never sees masks.
        sources.push({
          institutionId: 'secure-aggregate',
          numExamples: survivors,
          weight: 1,
          trainLoss: null,
          evalLoss: null,
          norm: Math.sqrt(sq),
          readSlice: async (name, start, count) => {
            const g = global.get(name)!;
            const d = mean.get(name)!;
            const out = new Float32Array(count);
            for (let i = 0; i < count; i++) out[i] = g[start + i]! + d[start + i]!;
            return out;
          },
        });
      }
      for (const [i, u] of plain.entries()) {
        if (!u.blob) throw new Error(`update ${u.id} has no stored upload`);
        sources.push({
          institutionId: u.institution_id,
          numExamples: u.num_examples,
          weight: aggregationWeight(u.num_examples, caps.get(u.institution_id) ?? null),
          trainLoss: u.train_loss,
          evalLoss: u.eval_loss,
          norm: u.norm,
          readSlice: (name, start, count) => files.use(i, (f) => f.readSlice(name, start, count)),
        });
      }
      const global = await this.globalTensors(ctx, taskId, r0.global_version, parent!.sha256);
      const state = parent!.state_sha256
        ? await readAdapterFile(await this.blobs.openBlob(parent!.state_sha256))
        : undefined;
      const result = await ctx.strategy.aggregateFit({
        global,
        trained: ctx.trained,
        updates: sources,
        state,
        concurrency: this.maxOpenUpdateFiles,
      });
      const version = r0.global_version + 1;
      const all = adapterTensorSpecs(ctx.spec.modelShape, ctx.spec.lora);
      adapterSha = await this.blobs.put(
        encodeAdapter(
          all.map((s) => ({ ...s, data: result.adapter.get(s.name)! })),
          {
            config: ctx.spec.lora,
            metadata: {
              [ADAPTER_META.task]: taskId,
              [ADAPTER_META.version]: String(version),
              [ADAPTER_META.round]: String(r0.number),
            },
          },
        ),
      );
      if (result.state) {
        stateSha = await this.blobs.put(
          writeSafetensors([...result.state].map(([name, data]) => ({ name, shape: [data.length], data }))),
        );
      }
      const train = ctx.strategy.aggregateEvaluate(
        sources.map((u) => ({ numExamples: u.numExamples, weight: u.weight, loss: u.trainLoss })),
      );
      const evaluation = ctx.strategy.aggregateEvaluate(
        sources.map((u) => ({ numExamples: u.numExamples, weight: u.weight, loss: u.evalLoss })),
      );
      const norms = updates.map((u) => u.norm);
      metrics = secureMetrics ?? {
        participants: updates.length,
        numExamples: train.numExamples,
        meanUpdateNorm: norms.reduce((a, b) => a + b, 0) / norms.length,
        maxUpdateNorm: Math.max(...norms),
        ...(train.loss !== null ? { trainLoss: train.loss } : {}),
        ...(evaluation.loss !== null ? { evalLoss: evaluation.loss } : {}),
      };
    } catch (err) {
      await files.closeAll();
      const exhausted = exhaustedResource(err);
      if (exhausted) {
        // Disk full or out of descriptors: the round stays `aggregating` with every update kept,
        // and the tick retries it after a backoff; readiness reports it meanwhile.
        const fault = this.resourceFaults.record(
          aggregationKey(roundId),
          exhausted,
          `aggregating ${taskId} round ${r0.number}`,
          err,
        );
        this.emit('resourceFault', fault);
        return;
      }
      this.resourceFaults.clear(aggregationKey(roundId));
      await this.failRound(taskId, roundId, `aggregation failed: ${(err as Error).message}`);
      return;
    }
    await files.closeAll();
    this.resourceFaults.clear(aggregationKey(roundId));
    const seconds = (performance.now() - started) / 1000;
    const events: RoundEvent[] = [];
    const now = Date.now();
    const closed = await this.db.transaction(async (tx) => {
      // Conditional: a round closes once, even if a deposed leader finishes the same aggregation.
      const [r] = await tx.query<RoundRow>(
        `UPDATE rounds SET state = 'closed', closed_at = $2, metrics = $3
         WHERE id = $1 AND state = 'aggregating' RETURNING *`,
        [roundId, now, JSON.stringify({ ...metrics, aggregationSeconds: seconds })],
      );
      if (!r) return false;
      const task = await this.taskRow(tx, taskId, true);
      const version = r.global_version + 1;
      // Every released sum spends privacy budget, whatever happens to the adapter afterwards.
      const budget = await this.spendPrivacy(tx, taskId, ctx);
      await tx.query(
        `INSERT INTO adapter_versions (task_id, version, parent_version, round, sha256, state_sha256, participants, metrics, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          taskId,
          version,
          r.global_version,
          r.number,
          adapterSha,
          stateSha,
          JSON.stringify(participants),
          JSON.stringify(metrics),
          now,
        ],
      );
      const completed = task.completed_rounds + 1;
      const budgetSpent = budget !== null && !budget.canRunAnotherRound();
      const done = completed >= (JSON.parse(task.spec) as CreateTaskRequest).rounds || budgetSpent;
      await tx.query(
        `UPDATE tasks SET latest_version = $2, completed_rounds = $3, consecutive_failures = 0, state = $4 WHERE id = $1`,
        [taskId, version, completed, done ? 'completed' : 'running'],
      );
      await appendAudit(tx, 'round.closed', 'server', {
        taskId,
        round: r.number,
        participants,
        updateIds: ctx.secure ? [] : updates.map((u) => u.id),
        metrics,
      });
      // A candidate, not a release: the next round trains from it, widgets wait for approval.
      await recordCandidate(tx, {
        taskId,
        version,
        parentVersion: r.global_version,
        sha256: adapterSha,
        metrics,
      });
      events.push({ taskId, round: r.number, state: 'closed' });
      if (done)
        await appendAudit(tx, 'task.completed', 'server', {
          taskId,
          rounds: completed,
          latestVersion: version,
          ...(budget ? { epsilonSpent: budget.epsilonSpent(), privacyBudgetSpent: budgetSpent } : {}),
        });
      else events.push(await this.openRound(tx, { ...task, latest_version: version }, r.number + 1));
      return true;
    });
    if (!closed) return; // another process closed it; it purges and announces
    this.metrics.rounds.inc({ outcome: 'closed' });
    this.metrics.aggregationSeconds.observe(seconds);
    await this.purgeUploads(roundId);
    events.forEach((e) => this.emit('round', e));
  }

  /** Records one released round in the task's privacy budget (null for tasks without DP). */
  private async spendPrivacy(tx: Queryable, taskId: string, ctx: TaskContext) {
    const plan = ctx.secure?.plan;
    if (!plan) return null;
    const [row] = await tx.query<{ state: string }>('SELECT state FROM privacy_budgets WHERE task_id = $1', [
      taskId,
    ]);
    const budget = loadBudget(plan, row?.state ?? null);
    budget.recordRound(); // worst case: only the threshold's noise shares in the sum
    await tx.query(
      `INSERT INTO privacy_budgets (task_id, state) VALUES ($1, $2)
       ON CONFLICT (task_id) DO UPDATE SET state = EXCLUDED.state`,
      [taskId, JSON.stringify(budget.toJSON())],
    );
    return budget;
  }

  // ── dashboard and registry ───────────────────────────────────────────────────────────────

  async rounds(taskId: string): Promise<RoundDetail[]> {
    await this.taskRow(this.db, taskId);
    const rounds = await this.db.query<RoundRow>('SELECT * FROM rounds WHERE task_id = $1 ORDER BY number', [
      taskId,
    ]);
    const updates = await this.db.query<UpdateRow>(
      'SELECT u.* FROM updates u JOIN rounds r ON r.id = u.round_id WHERE r.task_id = $1 ORDER BY u.id',
      [taskId],
    );
    return rounds.map((r) => ({
      number: r.number,
      state: r.state,
      globalVersion: r.global_version,
      openedAt: r.opened_at,
      deadlineAt: r.deadline_at,
      closedAt: r.closed_at,
      failureReason: r.failure_reason,
      metrics: r.metrics ? (JSON.parse(r.metrics) as Record<string, number>) : null,
      participants: updates
        .filter((u) => u.round_id === r.id)
        .map((u) => ({
          institutionId: u.institution_id,
          status: u.status,
          numExamples: u.num_examples,
          norm: u.norm,
          trainLoss: u.train_loss,
          receivedAt: u.received_at,
        })),
    }));
  }

  async versions(taskId: string): Promise<AdapterVersion[]> {
    await this.taskRow(this.db, taskId);
    return (
      await this.db.query<VersionRow>('SELECT * FROM adapter_versions WHERE task_id = $1 ORDER BY version', [
        taskId,
      ])
    ).map(toVersion);
  }

  /**
   * The registry as an institution sees it: aggregate facts only (version, hash, time, round, and
   * that the cohort had at least k members), nothing a peer could difference between rounds.
   */
  async registry(taskId: string): Promise<RegistryEntry[]> {
    const t = await this.taskRow(this.db, taskId);
    const k = minCohort(JSON.parse(t.spec) as CreateTaskRequest);
    const rows = await this.db.query<VersionRow>(
      'SELECT * FROM adapter_versions WHERE task_id = $1 ORDER BY version',
      [taskId],
    );
    return rows.map((r) => ({
      taskId: r.task_id,
      version: r.version,
      round: r.round,
      sha256: r.sha256,
      createdAt: iso(r.created_at),
      cohortAtLeast: r.round === null ? null : k,
    }));
  }

  /**
   * One registry version and a way to open its sealed blob; `latest` resolves to the newest.
   * @throws {NotFoundError} for an unknown task or version.
   */
  async version(
    taskId: string,
    version: number | 'latest',
  ): Promise<{ version: AdapterVersion; open: () => Promise<SealedFile>; publicAdapters: boolean }> {
    const t = await this.taskRow(this.db, taskId);
    const v = version === 'latest' ? t.latest_version : version;
    const [row] = await this.db.query<VersionRow>(
      'SELECT * FROM adapter_versions WHERE task_id = $1 AND version = $2',
      [taskId, v],
    );
    if (!row) throw new NotFoundError(`task ${taskId} has no adapter version ${v}`);
    return {
      version: toVersion(row),
      open: () => this.blobs.openBlob(row.sha256),
      publicAdapters: (JSON.parse(t.spec) as CreateTaskRequest).publicAdapters,
    };
  }
}
