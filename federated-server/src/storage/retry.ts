/**
 * Retrying database work after a lost connection (PostgreSQL restarted, failed over, or an
 * operator's `pg_terminate_backend`). Only work that cannot have taken effect is retried: a
 * transaction whose COMMIT was never sent (PostgreSQL rolled it back with the connection), a
 * statement the server itself reports it aborted (SQLSTATE 57P01…, 08…), or a read. A write
 * whose connection died mid-flight may or may not have committed, so it is not repeated blindly.
 */

/** SQLSTATEs meaning "the server ended this session" (class 08 and operator intervention 57P0x). */
const SESSION_ENDED = /^(08\d{3}|57P0[1-4])$/;
/** Socket-level failures: the statement's fate is unknown unless it was a read. */
const SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTCONN',
  'EHOSTUNREACH',
]);
const SOCKET_MESSAGES = /Connection terminated|connection error and is not queryable|Client was closed/i;

export type ConnectionLoss = 'none' | 'server-aborted' | 'socket';

/** Classifies an error from `pg`: not a connection loss, one the server reported, or a dead socket. */
export function connectionLoss(err: unknown): ConnectionLoss {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (SESSION_ENDED.test(code)) return 'server-aborted';
  if (SOCKET_CODES.has(code)) return 'socket';
  if (typeof e?.message === 'string' && SOCKET_MESSAGES.test(e.message)) return 'socket';
  return 'none';
}

export interface RetryOptions {
  /** Tries in all, the first included. Default 6. */
  attempts?: number;
  /** First backoff; doubles each time up to `maxDelayMs`. Defaults 50 ms and 2 s. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each retry (logs, tests). */
  onRetry?: (attempt: number, err: unknown, delayMs: number) => void;
}

/**
 * Runs `fn`, retrying with bounded exponential backoff while `retryable(err)` says the failure
 * left nothing behind. The last error is rethrown.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  retryable: (err: unknown) => boolean,
  opts: RetryOptions = {},
): Promise<T> {
  const attempts = opts.attempts ?? 6;
  const base = opts.baseDelayMs ?? 50;
  const max = opts.maxDelayMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !retryable(err)) throw err;
      const delay = Math.min(max, base * 2 ** (attempt - 1));
      opts.onRetry?.(attempt, err, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** A statement that only reads (CTEs excluded: they may write), so repeating it changes nothing. */
export const isReadOnly = (sql: string): boolean => /^\s*(SELECT|SHOW)\b/i.test(sql);
