/**
 * Named admin identities, so every admin action in the audit log names the person who took it
 * (`admin:<name>`) instead of one shared token.
 *
 * - Each admin has its own random token, shown once at creation and stored only as a SHA-256
 *   hash; a presented token is compared against every stored hash in constant time.
 * - The bootstrap token (DURE_ADMIN_TOKEN or the generated `<dataDir>/admin-token`) is the first
 *   admin, named `bootstrap` unless configured otherwise; an existing admin creates the others.
 * - An admin can be disabled (its token is refused from then on); the last active admin cannot,
 *   so the server never locks its operators out.
 */
import type { AdminIdentity } from '../../src/protocol/schemas.ts';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { toBase64Url } from '../../src/protocol/base64url.ts';
import { appendAudit } from './audit.ts';
import { AuthError, ConflictError, FederatedError, NotFoundError } from './errors.ts';
import type { Database } from './storage/db.ts';

export const BOOTSTRAP_ADMIN_ID = 'adm_bootstrap';
export const DEFAULT_BOOTSTRAP_NAME = 'bootstrap';
/** Letters (any script), digits, `.`, `_`, `-`; no spaces, so `admin:<name>` reads unambiguously. */
export const ADMIN_NAME_PATTERN = '^[\\p{L}\\p{N}._-]{1,64}$';
const ADMIN_NAME = new RegExp(ADMIN_NAME_PATTERN, 'u');

/** A named admin as the admin API reports it (the wire type in src/protocol). */
export type Admin = AdminIdentity;

interface AdminRow {
  id: string;
  name: string;
  token_sha256: string;
  status: 'active' | 'disabled';
  created_at: number;
  created_by: string;
  disabled_at: number | null;
}

const toAdmin = (r: AdminRow): Admin => ({
  id: r.id,
  name: r.name,
  status: r.status,
  createdAt: r.created_at,
  createdBy: r.created_by,
  disabledAt: r.disabled_at,
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const newToken = () => toBase64Url(randomBytes(32));

/** The audit actor of an admin's actions. */
export const adminActor = (admin: Pick<Admin, 'name'>): string => `admin:${admin.name}`;

function checkName(name: string): string {
  if (!ADMIN_NAME.test(name))
    throw new FederatedError(
      'BAD_ADMIN_NAME',
      400,
      'an admin name is 1–64 letters, digits, ".", "_" or "-" (no spaces)',
    );
  return name;
}

/**
 * Makes sure the bootstrap admin exists. A configured token becomes (or replaces) its token;
 * otherwise a token is generated on first start and returned once so the launcher can store it.
 * `name` renames the bootstrap admin (DURE_ADMIN_NAME).
 */
export async function ensureBootstrapAdmin(
  db: Database,
  configured?: string,
  name = DEFAULT_BOOTSTRAP_NAME,
): Promise<{ generated?: string }> {
  checkName(name);
  const [row] = await db.query<AdminRow>('SELECT * FROM admins WHERE id = $1', [BOOTSTRAP_ADMIN_ID]);
  if (row && !configured) {
    if (row.name !== name) await db.query('UPDATE admins SET name = $2 WHERE id = $1', [row.id, name]);
    return {};
  }
  if (row && configured) {
    await db.query('UPDATE admins SET token_sha256 = $2, name = $3 WHERE id = $1', [
      row.id,
      sha256(configured),
      name,
    ]);
    return {};
  }
  const token = configured ?? newToken();
  // Replicas starting together: one inserts; the others find the row made and use it.
  const created = await db.transaction(async (tx) => {
    const [inserted] = await tx.query(
      `INSERT INTO admins (id, name, token_sha256, status, created_at, created_by)
       VALUES ($1, $2, $3, 'active', $4, 'server') ON CONFLICT (id) DO NOTHING RETURNING id`,
      [BOOTSTRAP_ADMIN_ID, name, sha256(token), Date.now()],
    );
    if (inserted) await appendAudit(tx, 'server.admin_token_created', 'server', { admin: name });
    return inserted !== undefined;
  });
  if (!created) return ensureBootstrapAdmin(db, configured, name);
  return configured ? {} : { generated: token };
}

/**
 * The admin an `Authorization: Bearer <token>` header belongs to. Every stored hash is compared
 * (constant time, no early exit), so the answer's timing does not depend on which one matched.
 * @throws {AuthError} UNAUTHORIZED if missing or unknown; ADMIN_DISABLED for a disabled admin.
 */
export async function verifyAdmin(db: Database, authorization: string | undefined): Promise<Admin> {
  const m = /^Bearer ([A-Za-z0-9_-]{16,128})$/.exec(authorization ?? '');
  if (!m) throw new AuthError('admin token required (Authorization: Bearer …)');
  const given = Buffer.from(sha256(m[1]!), 'hex');
  let found: AdminRow | undefined;
  for (const row of await db.query<AdminRow>('SELECT * FROM admins')) {
    if (timingSafeEqual(given, Buffer.from(row.token_sha256, 'hex'))) found = row;
  }
  if (!found) throw new AuthError('wrong admin token');
  if (found.status !== 'active') throw new AuthError(`admin ${found.name} is disabled`, 'ADMIN_DISABLED');
  return toAdmin(found);
}

export async function listAdmins(db: Database): Promise<Admin[]> {
  return (await db.query<AdminRow>('SELECT * FROM admins ORDER BY created_at, name')).map(toAdmin);
}

/**
 * Creates a named admin with its own token (returned once; only its hash is kept). Audited with
 * the creating admin as actor.
 * @throws {FederatedError} BAD_ADMIN_NAME; {ConflictError} ADMIN_EXISTS.
 */
export async function createAdmin(
  db: Database,
  name: string,
  by: Admin,
): Promise<{ admin: Admin; token: string }> {
  checkName(name);
  const token = newToken();
  const id = `adm_${toBase64Url(randomBytes(9))}`;
  const row = await db.transaction(async (tx) => {
    const [dup] = await tx.query<{ id: string }>('SELECT id FROM admins WHERE name = $1', [name]);
    if (dup) throw new ConflictError(`an admin named ${name} already exists`, 'ADMIN_EXISTS');
    const [r] = await tx.query<AdminRow>(
      `INSERT INTO admins (id, name, token_sha256, status, created_at, created_by)
       VALUES ($1, $2, $3, 'active', $4, $5) RETURNING *`,
      [id, name, sha256(token), Date.now(), adminActor(by)],
    );
    await appendAudit(tx, 'admin.created', adminActor(by), { adminId: id, name });
    return r!;
  });
  return { admin: toAdmin(row), token };
}

/**
 * Disables an admin: its token is refused from the next request on. Audited.
 * @throws {NotFoundError} for an unknown admin; {ConflictError} LAST_ADMIN when no active admin would remain.
 */
export async function disableAdmin(db: Database, id: string, by: Admin): Promise<Admin> {
  return db.transaction(async (tx) => {
    const [row] = await tx.query<AdminRow>('SELECT * FROM admins WHERE id = $1', [id]);
    if (!row) throw new NotFoundError(`no admin ${id}`);
    if (row.status === 'disabled') return toAdmin(row);
    const [{ n } = { n: 0 }] = await tx.query<{ n: number }>(
      `SELECT count(*)::integer AS n FROM admins WHERE status = 'active' AND id <> $1`,
      [id],
    );
    if (n === 0) throw new ConflictError('the last active admin cannot be disabled', 'LAST_ADMIN');
    const [r] = await tx.query<AdminRow>(
      `UPDATE admins SET status = 'disabled', disabled_at = $2 WHERE id = $1 RETURNING *`,
      [id, Date.now()],
    );
    await appendAudit(tx, 'admin.disabled', adminActor(by), { adminId: id, name: row.name });
    return toAdmin(r!);
  });
}
