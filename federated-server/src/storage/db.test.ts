import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './db.ts';
import { MIGRATIONS, migrate } from './migrations.ts';
import { freshPgliteDir, startPostgres, type PostgresInstance } from '../testing/databases.ts';

/** The same assertions against both backends: one schema, one set of queries. */
function backendSuite(
  name: string,
  open: () => Promise<{ db: Database; cleanup: () => void; url?: string }>,
) {
  describe(`storage on ${name}`, () => {
    let db: Database;
    let cleanup: () => void;
    let url: string | undefined;
    beforeAll(async () => {
      ({ db, cleanup, url } = await open());
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

    it.runIf(name === 'PostgreSQL')(
      'survives pg_terminate_backend: reconnects, retries, loses and doubles nothing',
      async () => {
        const retries: string[] = [];
        const retrying = await openDatabase({
          databaseUrl: url!,
          pgliteDir: '',
          retry: {
            baseDelayMs: 5,
            onRetry: (_n, err) => retries.push((err as { code?: string }).code ?? '?'),
          },
        });
        const operator = new pg.Client({ connectionString: url! });
        await operator.connect();
        // What an operator (or a failover) does: end every other session of this database.
        const terminateOthers = () =>
          operator.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND datname = current_database() AND backend_type = 'client backend'`,
          );
        try {
          await retrying.query('CREATE TABLE IF NOT EXISTS reconnect_probe (n integer PRIMARY KEY)');
          let attempts = 0;
          for (let n = 1; n <= 6; n++) {
            if (n % 2 === 0) await terminateOthers(); // between requests: the pooled client is dead
            await retrying.transaction(async (tx) => {
              attempts++;
              await tx.query('INSERT INTO reconnect_probe (n) VALUES ($1)', [n]);
              // In the middle of a transaction: it was rolled back with the connection, and rerun.
              if (n === 3 && attempts === 3) await terminateOthers();
              await tx.query('SELECT 1');
            });
          }
          await terminateOthers();
          const rows = await retrying.query<{ n: number }>('SELECT n FROM reconnect_probe ORDER BY n');
          expect(rows.map((r) => r.n)).toEqual([1, 2, 3, 4, 5, 6]); // every acknowledged write, once
          expect(attempts).toBe(7); // transaction 3 ran twice (the first try was rolled back)
          expect(retries.length).toBeGreaterThanOrEqual(1);
          expect(retries.every((c) => /^57P01$|^08|^\?$|^E/.test(c))).toBe(true);
        } finally {
          await operator.end();
          await retrying.close();
        }
      },
    );

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
  return { db, cleanup: () => pgInstance?.stop(), url: pgInstance.url };
});
