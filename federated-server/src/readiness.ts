/**
 * Readiness: may a load balancer send this process requests? Yes when the database answers
 * `SELECT 1` within a bound and the data directory is writable with room left (updates and
 * aggregates are written there). Liveness (`/livez`) is only "the process answers": an
 * orchestrator restarts on liveness, and restarting does not fix a database that is down.
 */
import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import type { Queryable } from './storage/db.ts';
import type { ResourceFault } from './storage/resource-faults.ts';

export interface ReadinessOptions {
  /** How long `SELECT 1` may take. Default 2 s. */
  databaseTimeoutMs?: number;
  /** Free bytes the data directory's file system must keep. Default 256 MiB. */
  minFreeBytes?: number;
  /** Work waiting for disk space or descriptors (the coordinator's newest resource fault). */
  pendingFault?: ResourceFault | undefined;
}

export interface CheckResult {
  ok: boolean;
  /** Why not, in plain words (absent when ok). */
  reason?: string;
}

export interface Readiness {
  ready: boolean;
  database: CheckResult & { ms?: number };
  disk: CheckResult & {
    freeBytes?: number;
    /** Work kept and waiting to be retried because the disk or descriptors ran out. */
    pending?: { code: string; during: string; ko: string; en: string; attempts: number; nextRetryAt: string };
  };
}

export const DEFAULT_MIN_FREE_BYTES = 256 * 1024 * 1024;

async function checkDatabase(db: Queryable, timeoutMs: number): Promise<Readiness['database']> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`no answer to SELECT 1 within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([db.query('SELECT 1 AS one'), timeout]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, reason: `database: ${(err as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

async function checkDisk(dataDir: string, minFreeBytes: number): Promise<Readiness['disk']> {
  try {
    await access(dataDir, constants.W_OK);
    const fs = await statfs(dataDir);
    const freeBytes = Number(fs.bavail) * Number(fs.bsize); // what an unprivileged writer may use
    if (freeBytes < minFreeBytes)
      return { ok: false, freeBytes, reason: `disk: ${freeBytes} bytes free, below ${minFreeBytes}` };
    return { ok: true, freeBytes };
  } catch (err) {
    return { ok: false, reason: `disk: data directory not writable (${(err as Error).message})` };
  }
}

/** Runs both checks side by side. */
export async function checkReadiness(
  db: Queryable,
  dataDir: string,
  opts: ReadinessOptions = {},
): Promise<Readiness> {
  const [database, disk] = await Promise.all([
    checkDatabase(db, opts.databaseTimeoutMs ?? 2000),
    checkDisk(dataDir, opts.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES),
  ]);
  const f = opts.pendingFault;
  if (f) {
    // Free space may be back above the bound while the retry has not run yet: not ready until it has.
    disk.ok = false;
    disk.reason = `${f.during}: ${f.ko} / ${f.en} (${f.detail})`;
    disk.pending = {
      code: f.code,
      during: f.during,
      ko: f.ko,
      en: f.en,
      attempts: f.attempts,
      nextRetryAt: new Date(f.nextRetryAt).toISOString(),
    };
  }
  return { ready: database.ok && disk.ok, database, disk };
}
