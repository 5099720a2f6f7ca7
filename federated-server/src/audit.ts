/**
 * Append-only, hash-chained audit log (after NVIDIA FLARE's audit trail, with a chain so an
 * auditor can prove nothing was edited or removed). Entry n stores
 * hash = SHA-256(prev_hash ‖ "\n" ‖ canonical JSON of {seq, at, type, actor, data}),
 * where prev_hash is entry n−1's hash (64 zeros for the first). Entries are appended in the
 * same transaction as the event they record, so the log and the state never disagree.
 */
import { createHash } from 'node:crypto';
import type { Database, Queryable } from './storage/db.ts';

export const GENESIS_HASH = '0'.repeat(64);

export type AuditType =
  | 'server.admin_token_created'
  /** A named admin created by another admin, or disabled. */
  | 'admin.created'
  | 'admin.disabled'
  | 'institution.created'
  | 'institution.enrolled'
  /** The same code and public key again, answered as the first (a lost reply retried). */
  | 'institution.enrollment_repeated'
  /** An admin replaced a pending institution's enrolment code (the old one stops working). */
  | 'institution.enrollment_code_reissued'
  | 'institution.revoked'
  | 'task.created'
  | 'task.started'
  | 'task.completed'
  | 'task.failed'
  /** An admin moved a failed task back to running (its current round and kept updates go on). */
  | 'task.resumed'
  /** An admin admitted an institution to a task, or changed its weight cap. */
  | 'task.member.added'
  | 'task.member.removed'
  | 'round.opened'
  | 'round.aggregating'
  | 'round.closed'
  | 'round.failed'
  /** An institution advertised its keys for a secure round: it takes part (the only per-institution record kept). */
  | 'round.joined'
  | 'update.accepted'
  | 'update.rejected'
  /** Before releases were governed: an aggregate was served publicly at once (old logs). */
  | 'adapter.published'
  /** An aggregate became a release candidate (members train from it; the public does not see it). */
  | 'adapter.candidate'
  /** An admin attached an evaluation to a candidate. */
  | 'adapter.evaluated'
  | 'adapter.approved'
  | 'adapter.rejected'
  | 'adapter.rolled_back'
  /** An operator imported an air-gapped institution's phase message (after the route accepted it). */
  | 'airgap.imported'
  /** An operator exported a round view or a global adapter for an air-gapped institution. */
  | 'airgap.exported'
  /** A request with an admin token that was refused (unknown, disabled or malformed). */
  | 'admin.login_failed'
  /** An admin or a member institution downloaded a global adapter (public downloads are not logged). */
  | 'adapter.downloaded';

export interface AuditEntry {
  seq: number;
  at: number;
  type: string;
  actor: string;
  data: unknown;
  prevHash: string;
  hash: string;
}

/** JSON with object keys sorted at every level, so equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}

export function entryHash(
  prevHash: string,
  e: { seq: number; at: number; type: string; actor: string; data: string },
): string {
  const body = canonicalJson({ seq: e.seq, at: e.at, type: e.type, actor: e.actor, data: e.data });
  return createHash('sha256').update(`${prevHash}\n${body}`).digest('hex');
}

/**
 * Appends one entry inside the caller's transaction. The table lock (held to commit) serialises
 * appends across every server process on the database (replicas), so two never chain onto the
 * same head; plain reads of the log are not blocked.
 */
function isDatabase(q: Queryable): q is Database {
  return typeof (q as Partial<Database>).transaction === 'function';
}

export async function appendAudit(
  tx: Queryable,
  type: AuditType,
  actor: string,
  data: unknown,
): Promise<AuditEntry> {
  // The table lock below (one chain across replicas) holds only inside a transaction; a caller
  // that passes the database itself gets one of its own.
  if (isDatabase(tx)) return tx.transaction((t) => appendAudit(t, type, actor, data));
  await tx.query('LOCK TABLE audit_log IN EXCLUSIVE MODE');
  const [last] = await tx.query<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
  );
  const seq = (last?.seq ?? 0) + 1;
  const prevHash = last?.hash ?? GENESIS_HASH;
  const at = Date.now();
  const text = canonicalJson(data);
  const hash = entryHash(prevHash, { seq, at, type, actor, data: text });
  await tx.query(
    'INSERT INTO audit_log (seq, at, type, actor, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [seq, at, type, actor, text, prevHash, hash],
  );
  return { seq, at, type, actor, data, prevHash, hash };
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** Hash of the last entry: an auditor who noted it earlier can detect truncation of the tail. */
  headHash: string;
  /** Queries the rows were read in (the table is streamed `batchSize` rows at a time). */
  batches: number;
  /** The signed head the chain was checked against, if one was given and matched. */
  pinnedSeq?: number;
  /** First entry that fails, with why. */
  problem?: { seq: number; reason: string };
}

export interface VerifyOptions {
  /** Rows per query (memory stays bounded by this, not by the table). Default 1000. */
  batchSize?: number;
  /**
   * An entry known from elsewhere (a signed head, ./audit-head.ts): it must still be in the chain
   * with this hash, so deleting the newest entries or rewriting and re-hashing the chain shows.
   */
  pinned?: { seq: number; hash: string };
}

/**
 * Recomputes the whole chain, streaming it in batches; any edited, inserted, reordered or deleted
 * entry breaks it, and with `pinned` so does a rollback or a rewrite below a known head.
 */
export async function verifyAuditChain(db: Queryable, opts: VerifyOptions = {}): Promise<AuditVerification> {
  const batchSize = Math.max(1, opts.batchSize ?? 1000);
  const pinned = opts.pinned;
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  let batches = 0;
  let entries = 0;
  const fail = (seq: number, reason: string): AuditVerification => ({
    ok: false,
    entries,
    headHash: prev,
    batches,
    problem: { seq, reason },
  });
  for (;;) {
    const rows = await db.query<{
      seq: number;
      at: number;
      type: string;
      actor: string;
      data: string;
      prev_hash: string;
      hash: string;
    }>(
      'SELECT seq, at, type, actor, data, prev_hash, hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2',
      [expectedSeq, batchSize],
    );
    batches++;
    for (const r of rows) {
      entries++;
      if (r.seq !== expectedSeq) return fail(r.seq, `entry ${expectedSeq} is missing (found ${r.seq})`);
      if (r.prev_hash !== prev) return fail(r.seq, 'prev_hash does not match the previous entry');
      if (entryHash(prev, r) !== r.hash) return fail(r.seq, 'content does not match its hash (edited)');
      if (pinned && r.seq === pinned.seq && r.hash !== pinned.hash)
        return fail(r.seq, 'entry differs from the signed head (the chain was rewritten)');
      prev = r.hash;
      expectedSeq++;
    }
    if (rows.length < batchSize) break;
  }
  // Fewer entries than the signed head names: the newest were deleted after it was signed.
  if (pinned && pinned.seq >= expectedSeq)
    return fail(
      pinned.seq,
      `entries ${expectedSeq}–${pinned.seq} named by the signed head are gone (the log was rolled back)`,
    );
  return { ok: true, entries, headHash: prev, batches, ...(pinned ? { pinnedSeq: pinned.seq } : {}) };
}

/** Entries after `afterSeq`, oldest first, for the dashboard and auditors. */
export async function listAudit(db: Database, afterSeq = 0, limit = 200): Promise<AuditEntry[]> {
  const rows = await db.query<{
    seq: number;
    at: number;
    type: string;
    actor: string;
    data: string;
    prev_hash: string;
    hash: string;
  }>(
    'SELECT seq, at, type, actor, data, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2',
    [afterSeq, Math.min(Math.max(limit, 1), 1000)],
  );
  return rows.map((r) => ({
    seq: r.seq,
    at: r.at,
    type: r.type,
    actor: r.actor,
    data: JSON.parse(r.data),
    prevHash: r.prev_hash,
    hash: r.hash,
  }));
}
