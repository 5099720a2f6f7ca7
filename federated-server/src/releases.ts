/**
 * Governed releases: what citizens' widgets may load.
 *
 * Every aggregated version is a `candidate`. The federation keeps training from the newest
 * aggregate (the next round's global model is the candidate, and members download it for
 * training); only the public side waits. An admin approves a candidate once its evaluation gate
 * passes, which publishes it and moves the task's `stable` channel to it; an admin can reject a
 * candidate, and roll `stable` back to an earlier published version. Public downloads resolve
 * `latest` to `stable` and serve a numbered version only if it was published.
 *
 * The gate, honestly named:
 * - an operator-attached evaluation (e.g. `npx dure eval` run by the operator on held-out data),
 *   when present, decides;
 * - otherwise the cohort-reported eval loss: the mean of the losses the round's institutions
 *   measured on their own held-out data after local training, as they reported it. It is a proxy
 *   (self-reported, of the local models rather than of the aggregate), so the dashboard and docs
 *   call it that. It passes when it is no worse than the stable version's (or, when that has none,
 *   the parent's) by more than the task's tolerance; with no baseline at all it does not pass.
 */
import type {
  CreateTaskRequest,
  Decision,
  GateResult,
  OperatorEvaluation,
  Release,
  ReleaseState,
} from '../../src/protocol/schemas.ts';

export type { Decision, GateResult, OperatorEvaluation, Release, ReleaseState };
import { appendAudit } from './audit.ts';
import { adminActor, type Admin } from './admins.ts';
import { ConflictError, NotFoundError } from './errors.ts';
import type { Database, Queryable } from './storage/db.ts';

/** The one channel today; widgets follow it unless pinned with `adapter-version`. */
export const STABLE_CHANNEL = 'stable';
/** Default relative tolerance of the cohort eval-loss gate: 2 % worse than the baseline at most. */
export const DEFAULT_EVAL_LOSS_TOLERANCE = 0.02;

interface ReleaseRow {
  version: number;
  parent_version: number | null;
  round: number | null;
  sha256: string;
  release_state: ReleaseState;
  metrics: string;
  evaluation: string | null;
  decision: string | null;
  created_at: number;
}

interface TaskReleaseRow {
  id: string;
  spec: string;
  stable_version: number;
}

const evalLossOf = (r: Pick<ReleaseRow, 'metrics'> | undefined): number | null => {
  const v = r ? (JSON.parse(r.metrics) as Record<string, number>)['evalLoss'] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};

/** The task's gate tolerance (relative), from its spec or the default. */
export const evalLossTolerance = (spec: CreateTaskRequest): number =>
  spec.releaseEvalLossTolerance ?? DEFAULT_EVAL_LOSS_TOLERANCE;

/**
 * The evaluation gate of a candidate (pure). An attached operator evaluation decides; otherwise
 * the cohort-reported eval loss against the baseline's, within `tolerance` (relative).
 */
export function releaseGate(
  candidate: { evalLoss: number | null; evaluation: OperatorEvaluation | null },
  baseline: { version: number; evalLoss: number | null } | null,
  tolerance: number,
): GateResult {
  const common = {
    candidateEvalLoss: candidate.evalLoss,
    baselineEvalLoss: baseline?.evalLoss ?? null,
    baselineVersion: baseline?.version ?? null,
    tolerance,
  };
  if (candidate.evaluation)
    return {
      ...common,
      basis: 'operator_evaluation',
      passed: candidate.evaluation.passed,
      reason: `operator evaluation by ${candidate.evaluation.attachedBy} ${candidate.evaluation.passed ? 'passed' : 'failed'}: ${candidate.evaluation.summary}`,
    };
  if (candidate.evalLoss === null)
    return {
      ...common,
      basis: 'cohort_eval_loss',
      passed: false,
      reason: 'the cohort reported no eval loss; attach an evaluation',
    };
  if (!baseline || baseline.evalLoss === null)
    return {
      ...common,
      basis: 'cohort_eval_loss',
      passed: false,
      reason: 'no baseline eval loss to compare with; attach an evaluation',
    };
  const limit = baseline.evalLoss + tolerance * Math.abs(baseline.evalLoss);
  const passed = candidate.evalLoss <= limit;
  return {
    ...common,
    basis: 'cohort_eval_loss',
    passed,
    reason: `cohort-reported eval loss ${candidate.evalLoss.toFixed(4)} ${passed ? '≤' : '>'} ${limit.toFixed(4)} (v${baseline.version}'s ${baseline.evalLoss.toFixed(4)} + ${(tolerance * 100).toFixed(1)} %)`,
  };
}

async function taskRow(q: Queryable, taskId: string, lock = false): Promise<TaskReleaseRow> {
  const [t] = await q.query<TaskReleaseRow>(
    `SELECT id, spec, stable_version FROM tasks WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [taskId],
  );
  if (!t) throw new NotFoundError(`no task ${taskId}`);
  return t;
}

async function versionRows(q: Queryable, taskId: string): Promise<ReleaseRow[]> {
  return q.query<ReleaseRow>(
    `SELECT version, parent_version, round, sha256, release_state, metrics, evaluation, decision, created_at
     FROM adapter_versions WHERE task_id = $1 ORDER BY version`,
    [taskId],
  );
}

/** The gate of `row` judged against the task's current stable version (or the parent). */
function gateFor(row: ReleaseRow, rows: ReleaseRow[], t: TaskReleaseRow): GateResult {
  const stable = rows.find((r) => r.version === t.stable_version);
  const parent = rows.find((r) => r.version === row.parent_version);
  const baseRow = evalLossOf(stable) !== null ? stable : evalLossOf(parent) !== null ? parent : stable;
  return releaseGate(
    {
      evalLoss: evalLossOf(row),
      evaluation: row.evaluation ? (JSON.parse(row.evaluation) as OperatorEvaluation) : null,
    },
    baseRow ? { version: baseRow.version, evalLoss: evalLossOf(baseRow) } : null,
    evalLossTolerance(JSON.parse(t.spec) as CreateTaskRequest),
  );
}

/** Every version of a task with its release state, gate and decision, for the dashboard. */
export async function listReleases(q: Queryable, taskId: string): Promise<Release[]> {
  const t = await taskRow(q, taskId);
  const rows = await versionRows(q, taskId);
  return rows.map((r) => {
    const decision = r.decision ? (JSON.parse(r.decision) as Decision) : null;
    return {
      version: r.version,
      parentVersion: r.parent_version,
      round: r.round,
      sha256: r.sha256,
      state: r.release_state,
      stable: r.version === t.stable_version,
      metrics: JSON.parse(r.metrics) as Record<string, number>,
      evaluation: r.evaluation ? (JSON.parse(r.evaluation) as OperatorEvaluation) : null,
      gate: r.release_state === 'candidate' ? gateFor(r, rows, t) : (decision?.gate ?? null),
      decision,
      createdAt: r.created_at,
    };
  });
}

/**
 * Records a new aggregate as a candidate, inside the aggregation's transaction (the version row is
 * inserted there with `release_state` defaulting to `candidate`).
 */
export async function recordCandidate(
  tx: Queryable,
  e: {
    taskId: string;
    version: number;
    parentVersion: number;
    sha256: string;
    metrics: Record<string, number>;
  },
): Promise<void> {
  await appendAudit(tx, 'adapter.candidate', 'server', {
    taskId: e.taskId,
    version: e.version,
    parentVersion: e.parentVersion,
    sha256: e.sha256,
    cohortEvalLoss: e.metrics['evalLoss'] ?? null,
  });
}

/**
 * The version a public (widget) download may serve: `latest` is the stable channel; a number
 * only if that version was published.
 * @throws {NotFoundError} for an unknown task, or a version that was never published.
 */
export async function publicVersion(
  q: Queryable,
  taskId: string,
  version: number | 'latest',
): Promise<number> {
  const t = await taskRow(q, taskId);
  if (version === 'latest') return t.stable_version;
  const [row] = await q.query<{ release_state: ReleaseState }>(
    'SELECT release_state FROM adapter_versions WHERE task_id = $1 AND version = $2',
    [taskId, version],
  );
  if (row?.release_state !== 'published')
    throw new NotFoundError(`task ${taskId} has no published adapter version ${version}`);
  return version;
}

async function lockedVersion(tx: Queryable, taskId: string, version: number) {
  const t = await taskRow(tx, taskId, true);
  const rows = await versionRows(tx, taskId);
  const row = rows.find((r) => r.version === version);
  if (!row) throw new NotFoundError(`task ${taskId} has no adapter version ${version}`);
  return { t, rows, row };
}

/**
 * Attaches an operator's evaluation to a candidate; from then on it decides the gate. Audited.
 * @throws {ConflictError} RELEASE_NOT_CANDIDATE once the version was decided.
 */
export async function attachEvaluation(
  db: Database,
  taskId: string,
  version: number,
  evaluation: { passed: boolean; summary: string; metrics?: Record<string, number>; tool?: string },
  by: Admin,
): Promise<Release> {
  await db.transaction(async (tx) => {
    const { row } = await lockedVersion(tx, taskId, version);
    if (row.release_state !== 'candidate')
      throw new ConflictError(
        `v${version} is ${row.release_state}, not a candidate`,
        'RELEASE_NOT_CANDIDATE',
      );
    const record: OperatorEvaluation = {
      passed: evaluation.passed,
      summary: evaluation.summary,
      metrics: evaluation.metrics ?? {},
      tool: evaluation.tool ?? null,
      attachedBy: adminActor(by),
      attachedAt: Date.now(),
    };
    await tx.query('UPDATE adapter_versions SET evaluation = $3 WHERE task_id = $1 AND version = $2', [
      taskId,
      version,
      JSON.stringify(record),
    ]);
    await appendAudit(tx, 'adapter.evaluated', adminActor(by), {
      taskId,
      version,
      passed: record.passed,
      summary: record.summary,
      metrics: record.metrics,
      tool: record.tool,
    });
  });
  return (await listReleases(db, taskId)).find((r) => r.version === version)!;
}

/**
 * Approves a candidate whose gate passes: it is published and `stable` moves to it. Audited.
 * @throws {ConflictError} RELEASE_NOT_CANDIDATE, RELEASE_SUPERSEDED (not newer than stable),
 * RELEASE_GATE_FAILED (with the gate's reason).
 */
export async function approveRelease(
  db: Database,
  taskId: string,
  version: number,
  by: Admin,
  note = '',
): Promise<Release> {
  await db.transaction(async (tx) => {
    const { t, rows, row } = await lockedVersion(tx, taskId, version);
    if (row.release_state !== 'candidate')
      throw new ConflictError(
        `v${version} is ${row.release_state}, not a candidate`,
        'RELEASE_NOT_CANDIDATE',
      );
    if (version <= t.stable_version)
      throw new ConflictError(
        `v${version} is not newer than the stable v${t.stable_version}`,
        'RELEASE_SUPERSEDED',
      );
    const gate = gateFor(row, rows, t);
    if (!gate.passed)
      throw new ConflictError(`the evaluation gate did not pass: ${gate.reason}`, 'RELEASE_GATE_FAILED');
    const decision: Decision = { state: 'published', by: adminActor(by), at: Date.now(), note, gate };
    await tx.query(
      `UPDATE adapter_versions SET release_state = 'published', decision = $3 WHERE task_id = $1 AND version = $2`,
      [taskId, version, JSON.stringify(decision)],
    );
    await tx.query('UPDATE tasks SET stable_version = $2 WHERE id = $1', [taskId, version]);
    await appendAudit(tx, 'adapter.approved', adminActor(by), {
      taskId,
      version,
      channel: STABLE_CHANNEL,
      previousStable: t.stable_version,
      gate,
      note,
    });
  });
  return (await listReleases(db, taskId)).find((r) => r.version === version)!;
}

/**
 * Rejects a candidate: it is never served publicly. Training is unaffected (the next round already
 * trains from the newest aggregate). Audited.
 * @throws {ConflictError} RELEASE_NOT_CANDIDATE.
 */
export async function rejectRelease(
  db: Database,
  taskId: string,
  version: number,
  by: Admin,
  note = '',
): Promise<Release> {
  await db.transaction(async (tx) => {
    const { row } = await lockedVersion(tx, taskId, version);
    if (row.release_state !== 'candidate')
      throw new ConflictError(
        `v${version} is ${row.release_state}, not a candidate`,
        'RELEASE_NOT_CANDIDATE',
      );
    const decision: Decision = { state: 'rejected', by: adminActor(by), at: Date.now(), note };
    await tx.query(
      `UPDATE adapter_versions SET release_state = 'rejected', decision = $3 WHERE task_id = $1 AND version = $2`,
      [taskId, version, JSON.stringify(decision)],
    );
    await appendAudit(tx, 'adapter.rejected', adminActor(by), { taskId, version, note });
  });
  return (await listReleases(db, taskId)).find((r) => r.version === version)!;
}

/**
 * Rolls `stable` back to an earlier published version. The version rolled away from stays
 * published (a widget pinned to it keeps it); widgets following `stable` move back. Audited.
 * @throws {ConflictError} ROLLBACK_TARGET unless `version` is published and older than stable.
 */
export async function rollbackStable(
  db: Database,
  taskId: string,
  version: number,
  by: Admin,
  note = '',
): Promise<{ stable: number; previous: number }> {
  return db.transaction(async (tx) => {
    const { t, row } = await lockedVersion(tx, taskId, version);
    if (row.release_state !== 'published' || version >= t.stable_version)
      throw new ConflictError(
        `stable can roll back only to a published version older than v${t.stable_version}`,
        'ROLLBACK_TARGET',
      );
    await tx.query('UPDATE tasks SET stable_version = $2 WHERE id = $1', [taskId, version]);
    await appendAudit(tx, 'adapter.rolled_back', adminActor(by), {
      taskId,
      channel: STABLE_CHANNEL,
      from: t.stable_version,
      to: version,
      note,
    });
    return { stable: version, previous: t.stable_version };
  });
}
