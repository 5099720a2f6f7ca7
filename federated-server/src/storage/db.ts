/**
 * One SQL interface over two backends: PGlite (embedded PostgreSQL in WebAssembly, data
 * directory on disk) by default, real PostgreSQL through `pg` when DATABASE_URL is set. The
 * same schema and the same queries run on both.
 *
 * All statements of one process are serialised through one in-process queue (PGlite is
 * single-connection anyway). PGlite is one process only: its directory is locked
 * (./data-dir-lock.ts). On PostgreSQL several server processes (replicas) share the database, so
 * what must happen once across them is made so in SQL: conditional transitions and row locks in
 * the coordinator, an advisory lock for the leader (../leader.ts) and for migrations.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { DureError } from '../../../src/protocol/errors.ts';
import { StorageError } from '../errors.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { connectionLoss, isReadOnly, withRetry, type RetryOptions } from './retry.ts';

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction; commits if it resolves, rolls back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A FIFO mutex: callers run one at a time in arrival order. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

class PgliteDatabase implements Database {
  readonly kind = 'pglite';
  private readonly queue = new SerialQueue();
  constructor(
    private readonly db: PGlite,
    private readonly unlock: () => Promise<void>,
  ) {}
  query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.queue.run(async () => (await this.db.query<T>(sql, params)).rows);
  }
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.queue.run(() =>
      this.db.transaction(async (tx) =>
        fn({ query: async <R>(s: string, p: unknown[] = []) => (await tx.query<R>(s, p)).rows }),
      ),
    );
  }
  /** Idempotent: closing twice (a failed start, then shutdown) is not an error. */
  close(): Promise<void> {
    return this.queue.run(async () => {
      if (!this.db.closed) await this.db.close();
      await this.unlock();
    });
  }
}

/**
 * PostgreSQL through a `pg.Pool`: a connection the server ends (restart, failover,
 * `pg_terminate_backend`) is dropped from the pool and replaced on the next use, instead of
 * leaving one dead client that fails every later query (or, with no error handler, kills the
 * process). Work that cannot have taken effect is retried with bounded backoff (./retry.ts).
 */
class PostgresDatabase implements Database {
  readonly kind = 'postgres';
  private readonly queue = new SerialQueue();
  constructor(
    private readonly pool: pg.Pool,
    private readonly retry: RetryOptions = {},
  ) {
    // An idle client whose backend was terminated emits 'error'; the pool discards it. Without a
    // listener Node would treat the event as an uncaught exception.
    pool.on('error', () => undefined);
  }
  query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.queue.run(() =>
      withRetry(
        async () => (await this.pool.query(sql, params)).rows as T[],
        (err) => {
          const loss = connectionLoss(err);
          return loss === 'server-aborted' || (loss === 'socket' && isReadOnly(sql));
        },
        this.retry,
      ),
    );
  }
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.queue.run(() => {
      let committing = false;
      return withRetry(
        async () => {
          committing = false;
          const client = await this.pool.connect();
          let broken: unknown;
          // A checked-out client whose backend is terminated emits 'error' on itself (the pool only
          // listens while it is idle); without this listener Node raises it as uncaught.
          const onError = (e: unknown): void => {
            broken = e;
          };
          client.on('error', onError);
          try {
            await client.query('BEGIN');
            const out = await fn({
              query: async <R>(s: string, p: unknown[] = []) => (await client.query(s, p)).rows as R[],
            });
            committing = true;
            await client.query('COMMIT');
            return out;
          } catch (err) {
            if (connectionLoss(err) !== 'none') broken = err;
            else await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
            throw err;
          } finally {
            client.off('error', onError);
            client.release(broken instanceof Error ? broken : undefined); // a broken client is destroyed
          }
        },
        // Before COMMIT the server rolled everything back with the connection: safe to run again.
        // During COMMIT the outcome is unknown, so the error goes to the caller. A deadlock or
        // serialization failure between replicas rolled the transaction back too: run it again.
        (err) => (connectionLoss(err) !== 'none' && !committing) || TRANSIENT_CONFLICT.has(sqlState(err)),
        this.retry,
      );
    });
  }
  close(): Promise<void> {
    return this.queue.run(async () => {
      if (!this.pool.ended) await this.pool.end();
    });
  }
}

/** deadlock_detected, serialization_failure: PostgreSQL rolled the whole transaction back. */
const TRANSIENT_CONFLICT = new Set(['40P01', '40001']);
const sqlState = (err: unknown): string => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
};

export interface OpenOptions {
  /** PostgreSQL connection string; when absent PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory (ignored with databaseUrl). */
  pgliteDir: string;
  /** PostgreSQL: how work lost with a connection is retried (./retry.ts). */
  retry?: RetryOptions;
}

/** A PGlite data directory on disk that does not hold a database yet (in-memory ones never do). */
function isNewDataDir(dir: string): boolean {
  return dir !== '' && !dir.includes('://') && !existsSync(join(dir, 'PG_VERSION'));
}

/**
 * Opens the configured database.
 * @throws {StorageError} if the database cannot be opened or reached.
 */
export async function openDatabase(opts: OpenOptions): Promise<Database> {
  try {
    if (opts.databaseUrl) {
      const pool = new pg.Pool({
        connectionString: opts.databaseUrl,
        max: 2,
        connectionTimeoutMillis: 10_000,
      });
      try {
        (await pool.connect()).release(); // fail now, at start, if the database is unreachable
      } catch (err) {
        await pool.end().catch(() => undefined);
        throw err;
      }
      return new PostgresDatabase(pool, opts.retry);
    }
    const unlock = await lockDataDir(`${opts.pgliteDir}.lock`);
    try {
      const fresh = isNewDataDir(opts.pgliteDir);
      let db = new PGlite(opts.pgliteDir);
      await db.waitReady;
      if (fresh) {
        // A new directory is made by initdb running inside this process, and PGlite keeps its
        // memory: the server measured 870 MB resident after a first start, 440 MB after a
        // restart. Opening the now-initialised directory again lets that go (420 MB).
        await db.close();
        db = new PGlite(opts.pgliteDir);
        await db.waitReady;
      }
      return new PgliteDatabase(db, unlock);
    } catch (err) {
      await unlock();
      throw err;
    }
  } catch (cause) {
    if (cause instanceof DureError) throw cause; // DATA_DIR_IN_USE says what to do itself
    throw new StorageError(`cannot open the database: ${(cause as Error).message}`, { cause });
  }
}
