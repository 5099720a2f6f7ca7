/**
 * Upgrading a server that had one shared admin token: migration 4 turns that token into the
 * `bootstrap` admin (the same token keeps working, now with a name), marks every existing version
 * published and points `stable` at what widgets were already getting, so nothing a citizen sees
 * changes on upgrade; versions aggregated afterwards are candidates.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { verifyAdmin } from './admins.ts';
import { openDatabase } from './storage/db.ts';
import { MIGRATIONS, migrate } from './storage/migrations.ts';
import { freshPgliteDir } from './testing/databases.ts';

describe('migration 4 (named admins, governed releases) on an existing database', () => {
  it('keeps the old token working as admin "bootstrap" and what widgets see unchanged', async () => {
    const dir = await freshPgliteDir();
    const db = await openDatabase({ pgliteDir: dir });
    try {
      // the schema as it was before migration 4, with a shared token and a task at version 2
      await db.query(
        'CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at float8 NOT NULL)',
      );
      for (const m of MIGRATIONS.filter((x) => x.version < 4)) {
        for (const stmt of m.sql
          .split(/;\s*$/m)
          .map((s) => s.trim())
          .filter(Boolean))
          await db.query(stmt);
        await db.query('INSERT INTO schema_migrations VALUES ($1, $2, 0)', [m.version, m.name]);
      }
      const token = 'old-shared-token-0123456789abcdef';
      const hash = createHash('sha256').update(token).digest('hex');
      await db.query(`INSERT INTO settings (key, value) VALUES ('admin_token_sha256', $1)`, [hash]);
      await db.query(
        `INSERT INTO tasks (id, name, spec, state, latest_version, created_at) VALUES ('task_old', 'old', '{}', 'running', 2, 0)`,
      );
      for (const v of [0, 1, 2])
        await db.query(
          `INSERT INTO adapter_versions (task_id, version, sha256, participants, metrics, created_at)
           VALUES ('task_old', $1, $2, '[]', '{}', 0)`,
          [v, String(v).repeat(64)],
        );

      expect(await migrate(db)).toEqual(MIGRATIONS.filter((x) => x.version >= 4).map((x) => x.version));

      const admin = await verifyAdmin(db, `Bearer ${token}`);
      expect([admin.name, admin.status]).toEqual(['bootstrap', 'active']);
      expect(await db.query(`SELECT * FROM settings WHERE key = 'admin_token_sha256'`)).toEqual([]);
      const versions = await db.query<{ version: number; release_state: string }>(
        `SELECT version, release_state FROM adapter_versions WHERE task_id = 'task_old' ORDER BY version`,
      );
      expect(versions.map((v) => v.release_state)).toEqual(['published', 'published', 'published']);
      const [task] = await db.query<{ stable_version: number }>(
        `SELECT stable_version FROM tasks WHERE id = 'task_old'`,
      );
      expect(task!.stable_version).toBe(2);
      await db.query(
        `INSERT INTO adapter_versions (task_id, version, sha256, participants, metrics, created_at)
         VALUES ('task_old', 3, $1, '[]', '{}', 0)`,
        ['3'.repeat(64)],
      );
      const [v3] = await db.query<{ release_state: string }>(
        `SELECT release_state FROM adapter_versions WHERE task_id = 'task_old' AND version = 3`,
      );
      expect(v3!.release_state).toBe('candidate');
      await expect(verifyAdmin(db, 'Bearer wrong-token-0123456789abcdef')).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
      });
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
