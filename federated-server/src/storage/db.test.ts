import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './db.ts';
import { MIGRATIONS, migrate } from './migrations.ts';
import { freshPgliteDir, startPostgres, type PostgresInstance } from '../testing/databases.ts';

/** The same assertions against both backends: one schema, one set of queries. */
function backendSuite(name: string, open: () => Promise<{ db: Database; cleanup: () => void }>) {
  describe(`storage on ${name}`, () => {
    let db: Database;
    let cleanup: () => void;
    beforeAll(async () => {
      ({ db, cleanup } = await open());
    });
    afterAll(async () => {
      await db.close();
      cleanup();
    });

    it('applies every migration once and records it', async () => {
      expect(await migrate(db)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await migrate(db)).toEqual([]);
      const rows = await db.query<{ version: number }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    });

    it('rolls back a failed transaction and keeps serving', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO settings (key, value) VALUES ($1, $2)', ['k', 'v']);
          await tx.query('INSERT INTO settings (key, value) VALUES ($1, $2)', ['k', 'duplicate']);
        }),
      ).rejects.toThrow();
      expect(await db.query('SELECT * FROM settings WHERE key = $1', ['k'])).toEqual([]);
      await db.transaction((tx) =>
        tx.query('INSERT INTO settings (key, value) VALUES ($1, $2)', ['k', '한국어 값']),
      );
      expect(await db.query('SELECT value FROM settings WHERE key = $1', ['k'])).toEqual([
        { value: '한국어 값' },
      ]);
    });

    it('returns float8 times and integers as JS numbers on both drivers', async () => {
      const [row] = await db.query<{ t: number; n: number }>(
        'SELECT $1::float8 AS t, $2::integer AS n',
        [1763900000123.5, 42],
      );
      expect(row).toEqual({ t: 1763900000123.5, n: 42 });
    });
  });
}

backendSuite('PGlite', async () => {
  const dir = await freshPgliteDir();
  const db = await openDatabase({ pgliteDir: dir });
  return { db, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
});

let pgInstance: PostgresInstance | undefined;
backendSuite('PostgreSQL', async () => {
  pgInstance = await startPostgres();
  const db = await openDatabase({ databaseUrl: pgInstance.url, pgliteDir: '' });
  return { db, cleanup: () => pgInstance?.stop() };
});
