/**
 * One SQL interface over two backends: PGlite (embedded PostgreSQL in WebAssembly, data
 * directory on disk) by default, real PostgreSQL through `pg` when DATABASE_URL is set. The
 * same schema and the same queries run on both.
 *
 * All statements are serialised through one in-process queue: the server is a single process,
 * PGlite is single-connection anyway, and serial transactions make the audit hash chain and
 * round transitions race-free without advisory locks.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { StorageError } from '../errors.ts';

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
  constructor(private readonly db: PGlite) {}
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
    });
  }
}

class PostgresDatabase implements Database {
  readonly kind = 'postgres';
  private readonly queue = new SerialQueue();
  constructor(private readonly client: pg.Client) {}
  query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.queue.run(async () => (await this.client.query(sql, params)).rows as T[]);
  }
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      await this.client.query('BEGIN');
      try {
        const out = await fn({
          query: async <R>(s: string, p: unknown[] = []) => (await this.client.query(s, p)).rows as R[],
        });
        await this.client.query('COMMIT');
        return out;
      } catch (err) {
        await this.client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }
  close(): Promise<void> {
    return this.queue.run(() => this.client.end());
  }
}

export interface OpenOptions {
  /** PostgreSQL connection string; when absent PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory (ignored with databaseUrl). */
  pgliteDir: string;
}

/**
 * Opens the configured database.
 * @throws {StorageError} if the database cannot be opened or reached.
 */
export async function openDatabase(opts: OpenOptions): Promise<Database> {
  try {
    if (opts.databaseUrl) {
      const client = new pg.Client({ connectionString: opts.databaseUrl });
      await client.connect();
      return new PostgresDatabase(client);
    }
    const db = new PGlite(opts.pgliteDir);
    await db.waitReady;
    return new PgliteDatabase(db);
  } catch (cause) {
    throw new StorageError(`cannot open the database: ${(cause as Error).message}`, { cause });
  }
}
