/**
 * Task membership: the institutions an admin admitted to a task. Only members see a task, get
 * work, upload and download its adapters; to anyone else it does not exist (the same 404 as an
 * unknown task). A membership may cap the institution's aggregation weight (`maxWeight`).
 */
import type { TaskMember } from '../../src/protocol/schemas.ts';
import { appendAudit } from './audit.ts';
import { NotFoundError } from './errors.ts';
import type { Database, Queryable } from './storage/db.ts';

interface MemberRow {
  task_id: string;
  institution_id: string;
  max_weight: number | null;
  added_at: number;
}

const toMember = (r: MemberRow): TaskMember => ({
  taskId: r.task_id,
  institutionId: r.institution_id,
  maxWeight: r.max_weight,
  addedAt: new Date(r.added_at).toISOString(),
});

/**
 * An update's aggregation weight: never the client's own word alone. Without a cap every member
 * weighs 1 (equal weights); with one, min(reported examples, cap).
 */
export const aggregationWeight = (reported: number, cap: number | null): number =>
  cap === null ? 1 : Math.max(0, Math.min(reported, cap));

/**
 * Adds (or updates the weight cap of) an institution's membership of a task.
 * @throws {NotFoundError} for an unknown task or institution.
 */
export async function addMember(
  db: Database,
  taskId: string,
  institutionId: string,
  maxWeight: number | null,
  actor = 'admin',
): Promise<TaskMember> {
  return db.transaction(async (tx) => {
    const [t] = await tx.query('SELECT id FROM tasks WHERE id = $1', [taskId]);
    if (!t) throw new NotFoundError(`no task ${taskId}`);
    const [i] = await tx.query('SELECT id FROM institutions WHERE id = $1', [institutionId]);
    if (!i) throw new NotFoundError(`no institution ${institutionId}`);
    const [row] = await tx.query<MemberRow>(
      `INSERT INTO task_members (task_id, institution_id, max_weight, added_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (task_id, institution_id) DO UPDATE SET max_weight = EXCLUDED.max_weight RETURNING *`,
      [taskId, institutionId, maxWeight, Date.now()],
    );
    await appendAudit(tx, 'task.member.added', actor, { taskId, institutionId, maxWeight });
    return toMember(row!);
  });
}

/**
 * Removes a membership; the institution's update in a round not yet aggregated is withdrawn.
 * @throws {NotFoundError} if the institution is not a member.
 */
export async function removeMember(
  db: Database,
  taskId: string,
  institutionId: string,
  actor = 'admin',
): Promise<{ withdrawnUpdates: number }> {
  return db.transaction(async (tx) => {
    const gone = await tx.query(
      'DELETE FROM task_members WHERE task_id = $1 AND institution_id = $2 RETURNING task_id',
      [taskId, institutionId],
    );
    if (gone.length === 0) throw new NotFoundError(`${institutionId} is not a member of ${taskId}`);
    const withdrawn = await tx.query<{ id: number }>(
      `UPDATE updates SET status = 'revoked' WHERE institution_id = $1 AND status = 'accepted'
       AND round_id IN (SELECT id FROM rounds WHERE task_id = $2 AND state IN ('open', 'collecting')) RETURNING id`,
      [institutionId, taskId],
    );
    await appendAudit(tx, 'task.member.removed', actor, {
      taskId,
      institutionId,
      withdrawnUpdates: withdrawn.map((w) => w.id),
    });
    return { withdrawnUpdates: withdrawn.length };
  });
}

export async function listMembers(db: Queryable, taskId: string): Promise<TaskMember[]> {
  return (
    await db.query<MemberRow>('SELECT * FROM task_members WHERE task_id = $1 ORDER BY added_at', [taskId])
  ).map(toMember);
}

/** The ids of the tasks an institution is a member of. */
export async function memberTaskIds(db: Queryable, institutionId: string): Promise<Set<string>> {
  const rows = await db.query<{ task_id: string }>(
    'SELECT task_id FROM task_members WHERE institution_id = $1',
    [institutionId],
  );
  return new Set(rows.map((r) => r.task_id));
}

/**
 * Refuses a non-member exactly as an unknown task is refused, so membership reveals nothing.
 * @throws {NotFoundError} `no task <id>` unless the institution is a member.
 */
export async function requireMember(db: Queryable, institutionId: string, taskId: string): Promise<void> {
  const [m] = await db.query('SELECT 1 AS one FROM task_members WHERE task_id = $1 AND institution_id = $2', [
    taskId,
    institutionId,
  ]);
  if (!m) throw new NotFoundError(`no task ${taskId}`);
}
