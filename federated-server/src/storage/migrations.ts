/**
 * The schema, as an ordered list of migrations applied once each and recorded in
 * `schema_migrations`. Only portable PostgreSQL is used so PGlite and PostgreSQL agree.
 * Times are epoch milliseconds in float8 (a JS number on both drivers; int8 is not).
 */
import type { Database } from './db.ts';
import { StorageError } from '../errors.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Advisory lock key held while migrating (an arbitrary constant: "dure" in ASCII). */
const MIGRATION_LOCK = 0x64757265;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);

CREATE TABLE institutions (
  id text PRIMARY KEY,
  name text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
  enrollment_code_hash text,
  enrollment_expires_at float8,
  public_key text,
  created_at float8 NOT NULL,
  enrolled_at float8,
  revoked_at float8
);
CREATE UNIQUE INDEX institutions_code ON institutions (enrollment_code_hash);

CREATE TABLE nonces (
  institution_id text NOT NULL REFERENCES institutions (id),
  nonce text NOT NULL,
  seen_at float8 NOT NULL,
  PRIMARY KEY (institution_id, nonce)
);
CREATE INDEX nonces_seen ON nonces (seen_at);

CREATE TABLE tasks (
  id text PRIMARY KEY,
  name text NOT NULL,
  spec text NOT NULL,
  state text NOT NULL CHECK (state IN ('created', 'running', 'completed', 'failed')),
  completed_rounds integer NOT NULL DEFAULT 0,
  consecutive_failures integer NOT NULL DEFAULT 0,
  latest_version integer NOT NULL DEFAULT 0,
  created_at float8 NOT NULL
);

CREATE TABLE rounds (
  id serial PRIMARY KEY,
  task_id text NOT NULL REFERENCES tasks (id),
  number integer NOT NULL,
  state text NOT NULL CHECK (state IN ('open', 'collecting', 'aggregating', 'closed', 'failed')),
  global_version integer NOT NULL,
  opened_at float8 NOT NULL,
  deadline_at float8 NOT NULL,
  closed_at float8,
  failure_reason text,
  metrics text,
  UNIQUE (task_id, number)
);

CREATE TABLE updates (
  id serial PRIMARY KEY,
  round_id integer NOT NULL REFERENCES rounds (id),
  institution_id text NOT NULL REFERENCES institutions (id),
  sha256 text NOT NULL,
  num_examples integer NOT NULL,
  train_loss float8,
  eval_loss float8,
  norm float8 NOT NULL,
  status text NOT NULL CHECK (status IN ('accepted', 'revoked')),
  received_at float8 NOT NULL,
  UNIQUE (round_id, institution_id)
);

CREATE TABLE adapter_versions (
  task_id text NOT NULL REFERENCES tasks (id),
  version integer NOT NULL,
  parent_version integer,
  round integer,
  sha256 text NOT NULL,
  state_sha256 text,
  participants text NOT NULL,
  metrics text NOT NULL,
  created_at float8 NOT NULL,
  PRIMARY KEY (task_id, version)
);

CREATE TABLE audit_log (
  seq integer PRIMARY KEY,
  at float8 NOT NULL,
  type text NOT NULL,
  actor text NOT NULL,
  data text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'task membership, weight caps, upload retention',
    sql: `
CREATE TABLE task_members (
  task_id text NOT NULL REFERENCES tasks (id),
  institution_id text NOT NULL REFERENCES institutions (id),
  max_weight float8,
  added_at float8 NOT NULL,
  PRIMARY KEY (task_id, institution_id)
);
CREATE INDEX task_members_institution ON task_members (institution_id);

ALTER TABLE updates ALTER COLUMN sha256 DROP NOT NULL;
ALTER TABLE updates ADD COLUMN blob text;
`,
  },
  {
    version: 3,
    name: 'secure aggregation phases and privacy budgets',
    sql: `
CREATE TABLE secure_rounds (
  round_id integer PRIMARY KEY REFERENCES rounds (id),
  phase text NOT NULL CHECK (phase IN ('advertise', 'share', 'mask', 'unmask', 'done', 'failed')),
  phase_deadline float8 NOT NULL,
  roster text,
  shared text,
  unmask_request text,
  failure_reason text
);

CREATE TABLE secure_messages (
  round_id integer NOT NULL REFERENCES rounds (id),
  institution_id text NOT NULL REFERENCES institutions (id),
  pseudonym text NOT NULL,
  advertisement text NOT NULL,
  shares text,
  masked_blob text,
  unmask text,
  PRIMARY KEY (round_id, institution_id),
  UNIQUE (round_id, pseudonym)
);

CREATE TABLE privacy_budgets (
  task_id text PRIMARY KEY REFERENCES tasks (id),
  state text NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'named admins, governed releases (candidate, published, rejected; stable channel)',
    sql: `
CREATE TABLE admins (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE,
  token_sha256 text NOT NULL UNIQUE,
  status text NOT NULL CHECK (status IN ('active', 'disabled')),
  created_at float8 NOT NULL,
  created_by text NOT NULL,
  disabled_at float8
);
INSERT INTO admins (id, name, token_sha256, status, created_at, created_by)
  SELECT 'adm_bootstrap', 'bootstrap', value, 'active', extract(epoch from now()) * 1000, 'server'
  FROM settings WHERE key = 'admin_token_sha256';
DELETE FROM settings WHERE key = 'admin_token_sha256';

ALTER TABLE adapter_versions ADD COLUMN release_state text NOT NULL DEFAULT 'candidate'
  CHECK (release_state IN ('candidate', 'published', 'rejected'));
UPDATE adapter_versions SET release_state = 'published';
ALTER TABLE adapter_versions ADD COLUMN evaluation text;
ALTER TABLE adapter_versions ADD COLUMN decision text;
ALTER TABLE tasks ADD COLUMN stable_version integer NOT NULL DEFAULT 0;
UPDATE tasks SET stable_version = latest_version;
`,
  },
];

/**
 * Applies every migration not yet recorded, each in its own transaction.
 * @throws {StorageError} if a migration fails (the database is left at the previous version).
 */
export async function migrate(db: Database): Promise<number[]> {
  // Replicas starting together: one migrates at a time (the lock ends with each transaction), and
  // each re-reads what is applied under the lock, so a migration never runs twice.
  const exclusive = db.kind === 'postgres' ? `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})` : 'SELECT 1';
  await db.transaction(async (tx) => {
    await tx.query(exclusive);
    await tx.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at float8 NOT NULL)',
    );
  });
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    try {
      const ran = await db.transaction(async (tx) => {
        await tx.query(exclusive);
        const [done] = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
        if (done) return false;
        for (const stmt of m.sql
          .split(/;\s*$/m)
          .map((s) => s.trim())
          .filter(Boolean))
          await tx.query(stmt);
        await tx.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
        return true;
      });
      if (ran) applied.push(m.version);
    } catch (cause) {
      throw new StorageError(`migration ${m.version} (${m.name}) failed: ${(cause as Error).message}`, {
        cause,
      });
    }
  }
  return applied;
}
