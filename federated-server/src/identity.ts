/**
 * Who may call the server: named admins (tokens; ./admins.ts) and enrolled institutions (Ed25519 keys).
 *
 * - An institution is created by the admin with a one-time enrollment code (hashed, expiring);
 *   its browser enrolls a public key with the code; every later request is signed
 *   (../../src/protocol/signing.ts) and checked for freshness and replay (nonce table).
 * - Revocation refuses the institution's requests and its pending updates.
 */
import { createHash, randomBytes } from 'node:crypto';
import { toBase64Url } from '../../src/protocol/base64url.ts';
import {
  HEADER_CONTENT_SHA256,
  HEADER_INSTITUTION,
  HEADER_NONCE,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  importPublicKey,
  SIGNATURE_WINDOW_MS,
  verifySignature,
} from '../../src/protocol/signing.ts';
import { appendAudit } from './audit.ts';
import { AuthError, ConflictError, NotFoundError } from './errors.ts';
import type { Database } from './storage/db.ts';

const ENROLLMENT_TTL_MS = 7 * 24 * 3600 * 1000;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function randomToken(bytes = 32): string {
  return toBase64Url(randomBytes(bytes));
}

export interface Institution {
  id: string;
  name: string;
  status: 'pending' | 'active' | 'revoked';
  createdAt: number;
  enrolledAt: number | null;
  revokedAt: number | null;
}

interface InstitutionRow {
  id: string;
  name: string;
  status: Institution['status'];
  public_key: string | null;
  /** Kept after enrolment only to recognise a repeat of it (see `enroll`). */
  enrollment_code_hash: string | null;
  created_at: number;
  enrolled_at: number | null;
  revoked_at: number | null;
}

const toInstitution = (r: InstitutionRow): Institution => ({
  id: r.id,
  name: r.name,
  status: r.status,
  createdAt: r.created_at,
  enrolledAt: r.enrolled_at,
  revokedAt: r.revoked_at,
});

/** Creates a pending institution and its one-time enrollment code (returned once, stored hashed). */
export async function createInstitution(
  db: Database,
  name: string,
  actor = 'admin',
): Promise<{ institution: Institution; enrollmentCode: string }> {
  const id = `inst_${randomToken(9)}`;
  const code = randomToken(24);
  const now = Date.now();
  const row = await db.transaction(async (tx) => {
    const [r] = await tx.query<InstitutionRow>(
      `INSERT INTO institutions (id, name, status, enrollment_code_hash, enrollment_expires_at, created_at)
       VALUES ($1, $2, 'pending', $3, $4, $5) RETURNING *`,
      [id, name, sha256(code), now + ENROLLMENT_TTL_MS, now],
    );
    await appendAudit(tx, 'institution.created', actor, { institutionId: id, name });
    return r!;
  });
  return { institution: toInstitution(row), enrollmentCode: code };
}

/**
 * A new one-time enrolment code for a pending institution (the first was lost, expired or went to
 * the wrong person). The old code stops working at once: only the new code's hash is stored.
 * Audited as `institution.enrollment_code_reissued`.
 * @throws {NotFoundError} no such institution. @throws {ConflictError} NOT_PENDING: it already
 *   enrolled or was revoked (revoke and create a new institution to move an enrolled one).
 */
export async function reissueEnrollmentCode(
  db: Database,
  id: string,
  actor: string,
): Promise<{ institution: Institution; enrollmentCode: string }> {
  const code = randomToken(24);
  const now = Date.now();
  const row = await db.transaction(async (tx) => {
    const [r] = await tx.query<InstitutionRow>('SELECT * FROM institutions WHERE id = $1 FOR UPDATE', [id]);
    if (!r) throw new NotFoundError(`institution ${id} not found`);
    if (r.status !== 'pending')
      throw new ConflictError(`institution ${id} is ${r.status}, not pending`, 'NOT_PENDING');
    const [u] = await tx.query<InstitutionRow>(
      `UPDATE institutions SET enrollment_code_hash = $2, enrollment_expires_at = $3 WHERE id = $1 RETURNING *`,
      [id, sha256(code), now + ENROLLMENT_TTL_MS],
    );
    await appendAudit(tx, 'institution.enrollment_code_reissued', actor, { institutionId: id });
    return u!;
  });
  return { institution: toInstitution(row), enrollmentCode: code };
}

/**
 * How long after an enrolment the same code with the same public key is still answered (see
 * `enroll`). A client retries a lost reply within seconds to minutes (src/fl/retry.ts), or when the
 * operator reopens the console — usually the same or the next working day; a day covers both, and
 * past it an admin re-issuing a code is cheap, so the used code's hash does not linger.
 */
export const ENROLLMENT_REPEAT_WINDOW_MS = 24 * 3600 * 1000;

/**
 * Binds a public key to the institution that owns `code`. The code then works only for a repeat
 * of that same enrolment (same public key), so a client whose reply was lost — connection dropped,
 * server killed after the commit, tab closed — can retry and get the same answer instead of being
 * locked out. A repeat is accepted until the institution's first signed request (which proves the
 * reply arrived; `authenticateSigned` then drops the code) and at most
 * `ENROLLMENT_REPEAT_WINDOW_MS` after the enrolment, never past the code's own expiry. It changes
 * nothing but the audit log (`institution.enrollment_repeated`). The code with another key stays
 * refused: that is the takeover the one-time code exists to prevent.
 * @throws {AuthError} BAD_ENROLLMENT_CODE for an unknown, expired or used code (used: with another
 *   key, after the first signed request, after the repeat window, or of a revoked institution).
 * @throws {SignatureError} for a malformed public key.
 */
export async function enroll(db: Database, code: string, publicKey: string): Promise<Institution> {
  await importPublicKey(publicKey); // validates the key before anything is stored
  return db.transaction(async (tx) => {
    const now = Date.now();
    // FOR UPDATE: on PostgreSQL two concurrent enrolments with one code serialise here, so the
    // second sees the first's key (and is a repeat or refused) instead of overwriting it.
    const [r] = await tx.query<InstitutionRow & { enrollment_expires_at: number | null }>(
      `SELECT * FROM institutions WHERE enrollment_code_hash = $1 FOR UPDATE`,
      [sha256(code)],
    );
    const refused = () => new AuthError('unknown, used or expired enrollment code', 'BAD_ENROLLMENT_CODE');
    if (!r || r.enrollment_expires_at === null || r.enrollment_expires_at < now) throw refused();
    if (r.status === 'active') {
      if (r.public_key !== publicKey) throw refused();
      await appendAudit(tx, 'institution.enrollment_repeated', r.id, {
        institutionId: r.id,
        publicKeySha256: sha256(publicKey),
        enrolledAt: r.enrolled_at,
      });
      return toInstitution(r);
    }
    if (r.status !== 'pending') throw refused();
    const [u] = await tx.query<InstitutionRow>(
      `UPDATE institutions SET status = 'active', public_key = $2, enrolled_at = $3,
         enrollment_expires_at = LEAST(enrollment_expires_at, $4)
       WHERE id = $1 RETURNING *`,
      [r.id, publicKey, now, now + ENROLLMENT_REPEAT_WINDOW_MS],
    );
    await appendAudit(tx, 'institution.enrolled', r.id, {
      institutionId: r.id,
      publicKeySha256: sha256(publicKey),
    });
    return toInstitution(u!);
  });
}

/**
 * Revokes an institution: later requests fail and its updates in rounds not yet aggregated are
 * withdrawn from aggregation.
 * @throws {NotFoundError} for an unknown institution; {ConflictError} if already revoked.
 */
export async function revokeInstitution(
  db: Database,
  id: string,
  reason: string,
  actor = 'admin',
): Promise<{ withdrawnUpdates: number }> {
  return db.transaction(async (tx) => {
    const [r] = await tx.query<InstitutionRow>('SELECT * FROM institutions WHERE id = $1', [id]);
    if (!r) throw new NotFoundError(`no institution ${id}`);
    if (r.status === 'revoked')
      throw new ConflictError(`institution ${id} is already revoked`, 'ALREADY_REVOKED');
    await tx.query(
      `UPDATE institutions SET status = 'revoked', revoked_at = $2, enrollment_code_hash = NULL WHERE id = $1`,
      [id, Date.now()],
    );
    const withdrawn = await tx.query<{ id: number }>(
      `UPDATE updates SET status = 'revoked' WHERE institution_id = $1 AND status = 'accepted'
       AND round_id IN (SELECT id FROM rounds WHERE state IN ('open', 'collecting')) RETURNING id`,
      [id],
    );
    await appendAudit(tx, 'institution.revoked', actor, {
      institutionId: id,
      reason,
      withdrawnUpdates: withdrawn.map((w) => w.id),
    });
    return { withdrawnUpdates: withdrawn.length };
  });
}

export async function listInstitutions(db: Database): Promise<Institution[]> {
  return (await db.query<InstitutionRow>('SELECT * FROM institutions ORDER BY created_at')).map(
    toInstitution,
  );
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * The one answer for a signed request whose sender is not accepted: unknown institution, revoked
 * institution, malformed headers or a signature that does not verify all read the same (status,
 * code and message), so a caller learns nothing about which institutions exist or their state.
 */
export const SIGNATURE_REFUSED = 'request signature not accepted';
const refusedSignature = () => new AuthError(SIGNATURE_REFUSED, 'BAD_SIGNATURE');

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return typeof v === 'string' ? v : undefined;
}

/** Public keys imported once per institution (importing is the slow part of verification). */
const keyCache = new Map<string, Promise<CryptoKey>>();

/**
 * Authenticates a signed request before its body is read: known active institution, fresh
 * timestamp, valid signature, unseen nonce (recorded). Returns the institution id and the
 * declared body hash, which the body parser must then match.
 * @throws {AuthError} UNSIGNED, STALE_REQUEST (both decided before any institution is looked up),
 *   REPLAYED (only after the signature verified), or BAD_SIGNATURE with `SIGNATURE_REFUSED` for an
 *   unknown or revoked institution, malformed headers or a wrong signature alike.
 */
export async function authenticateSigned(
  db: Database,
  headers: Headers,
  method: string,
  path: string,
  now: number = Date.now(),
  /** How old a signature may be: the online window, or an air-gapped file's transfer time. */
  windowMs: number = SIGNATURE_WINDOW_MS,
): Promise<{ institutionId: string; contentSha256: string }> {
  const institutionId = header(headers, HEADER_INSTITUTION);
  const timestamp = header(headers, HEADER_TIMESTAMP);
  const nonce = header(headers, HEADER_NONCE);
  const contentSha256 = header(headers, HEADER_CONTENT_SHA256);
  const signature = header(headers, HEADER_SIGNATURE);
  if (!institutionId || !timestamp || !nonce || !contentSha256 || !signature) {
    throw new AuthError('request is not signed', 'UNSIGNED');
  }
  if (
    !/^[0-9]{1,16}$/.test(timestamp) ||
    !/^[A-Za-z0-9_-]{16,64}$/.test(nonce) ||
    !/^[0-9a-f]{64}$/.test(contentSha256)
  ) {
    throw refusedSignature();
  }
  if (Math.abs(now - Number(timestamp)) > windowMs)
    throw new AuthError('request timestamp is outside the allowed window', 'STALE_REQUEST');
  const [inst] = await db.query<InstitutionRow>('SELECT * FROM institutions WHERE id = $1', [institutionId]);
  if (!inst || !inst.public_key || inst.status === 'revoked') throw refusedSignature();
  let key = keyCache.get(inst.public_key);
  if (!key) {
    key = importPublicKey(inst.public_key);
    keyCache.set(inst.public_key, key);
  }
  const ok = await verifySignature(
    await key,
    { method, path, institutionId, timestamp, nonce, contentSha256 },
    signature,
  );
  if (!ok) throw refusedSignature();
  // A nonce is kept as long as its timestamp could still be accepted: `pruneNonces` drops rows
  // two online windows after `seen_at`, so a longer window records it as seen that much later.
  const inserted = await db.query(
    'INSERT INTO nonces (institution_id, nonce, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING nonce',
    [institutionId, nonce, now + Math.max(0, windowMs - SIGNATURE_WINDOW_MS)],
  );
  if (inserted.length === 0) throw new AuthError('nonce already used (replayed request)', 'REPLAYED');
  // A signed request proves the enrolment reply arrived: the code has done its job (see `enroll`).
  // Only the first such request after enrolment pays for this write.
  if (inst.enrollment_code_hash !== null)
    await db.query(
      'UPDATE institutions SET enrollment_code_hash = NULL, enrollment_expires_at = NULL WHERE id = $1',
      [institutionId],
    );
  return { institutionId, contentSha256 };
}

/** Forgets nonces old enough that their timestamps would be rejected anyway. */
export async function pruneNonces(db: Database, now: number = Date.now()): Promise<void> {
  await db.query('DELETE FROM nonces WHERE seen_at < $1', [now - 2 * SIGNATURE_WINDOW_MS]);
}
