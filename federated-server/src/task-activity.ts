/**
 * Who is training a task now, for the admin dashboard's task page (issue #20): the institutions
 * taking part in the current round's secure-aggregation phases, or whose update for it arrived.
 * Admins see names; institutions never get this (issue #15: they see aggregate facts only).
 */
import type { TaskActivity } from '../../src/protocol/schemas.ts';
import type { Database } from './storage/db.ts';

export async function taskActivity(db: Database, taskId: string): Promise<TaskActivity> {
  const [round] = await db.query<{
    id: number;
    number: number;
    state: string;
    deadline_at: number;
    phase: string | null;
  }>(
    `SELECT r.id, r.number, r.state, r.deadline_at, s.phase FROM rounds r
       LEFT JOIN secure_rounds s ON s.round_id = r.id
     WHERE r.task_id = $1 AND r.state IN ('open', 'collecting', 'aggregating')
     ORDER BY r.number DESC LIMIT 1`,
    [taskId],
  );
  if (!round) return { round: null, institutions: [] };
  const rows = await db.query<{ institution_id: string; name: string; activity: 'secure' | 'submitted' }>(
    `SELECT m.institution_id, i.name, 'secure' AS activity FROM secure_messages m
       JOIN institutions i ON i.id = m.institution_id WHERE m.round_id = $1
     UNION
     SELECT u.institution_id, i.name, 'submitted' AS activity FROM updates u
       JOIN institutions i ON i.id = u.institution_id WHERE u.round_id = $1 AND u.status = 'accepted'
     ORDER BY 2`,
    [round.id],
  );
  return {
    round: {
      number: round.number,
      state: round.state as NonNullable<TaskActivity['round']>['state'],
      deadlineAt: round.deadline_at,
      securePhase: round.phase,
    },
    institutions: rows.map((r) => ({ institutionId: r.institution_id, name: r.name, activity: r.activity })),
  };
}
