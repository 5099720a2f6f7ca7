/**
 * Running out of disk or file descriptors is a condition that passes (an operator frees space,
 * a burst of uploads ends), not a fact about the round: the work that hit it is kept and retried,
 * never failed and discarded. This module says which errors are such conditions, turns them into
 * the typed 503 a client retries, and remembers the current one so `/readyz` and the dashboard can
 * say what is wrong in plain Korean and English.
 */
import { errorText } from '../../../src/protocol/errors.ts';
import { FederatedError } from '../errors.ts';

/** errno codes for an exhausted resource: disk space or quota, and per-process or system descriptors. */
const EXHAUSTED: Record<string, 'STORAGE_FULL' | 'TOO_MANY_OPEN_FILES'> = {
  ENOSPC: 'STORAGE_FULL',
  EDQUOT: 'STORAGE_FULL',
  EMFILE: 'TOO_MANY_OPEN_FILES',
  ENFILE: 'TOO_MANY_OPEN_FILES',
};

/** The catalogue code for an exhausted-resource error (looked for along `cause`), or null. */
export function exhaustedResource(err: unknown): 'STORAGE_FULL' | 'TOO_MANY_OPEN_FILES' | null {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && EXHAUSTED[code]) return EXHAUSTED[code];
  }
  return null;
}

/** Seconds a client is told to wait before retrying a request refused for lack of disk or descriptors. */
export const RETRY_AFTER_SECONDS = 30;

/** The typed 503 (with Retry-After) a request gets when it ran out of disk or descriptors. */
export function unavailableFor(code: 'STORAGE_FULL' | 'TOO_MANY_OPEN_FILES', cause: unknown): FederatedError {
  const err = new FederatedError(code, 503, errorText(code, 'en'), { cause });
  return Object.assign(err, { retryAfterSeconds: RETRY_AFTER_SECONDS });
}

export interface ResourceFault {
  code: 'STORAGE_FULL' | 'TOO_MANY_OPEN_FILES';
  /** What was being done (e.g. "aggregating task_x round 3"). */
  during: string;
  /** The system's message (ENOSPC: no space left on device, …). */
  detail: string;
  ko: string;
  en: string;
  since: number;
  attempts: number;
  /** When the work is tried again (ms since the epoch). */
  nextRetryAt: number;
}

export interface BackoffOptions {
  /** First wait. Default 1 s. */
  baseMs?: number;
  /** Longest wait: a full disk is retried at least this often. Default 60 s. */
  maxMs?: number;
}

/**
 * The exhausted-resource faults of pending work, by key (one per round), with capped exponential
 * backoff between attempts. The newest is what readiness reports.
 */
export class ResourceFaults {
  private readonly faults = new Map<string, ResourceFault>();
  constructor(private readonly opts: BackoffOptions = {}) {}

  /** Records a failed attempt of `key`'s work; returns the fault (with its next retry time). */
  record(
    key: string,
    code: ResourceFault['code'],
    during: string,
    err: unknown,
    now = Date.now(),
  ): ResourceFault {
    const prev = this.faults.get(key);
    const attempts = (prev?.attempts ?? 0) + 1;
    const wait = Math.min(this.opts.maxMs ?? 60_000, (this.opts.baseMs ?? 1000) * 2 ** (attempts - 1));
    const fault: ResourceFault = {
      code,
      during,
      detail: (err as Error)?.message ?? String(err),
      ko: errorText(code, 'ko'),
      en: errorText(code, 'en'),
      since: prev?.since ?? now,
      attempts,
      nextRetryAt: now + wait,
    };
    this.faults.set(key, fault);
    return fault;
  }

  /** Whether `key`'s work should wait (its last attempt failed and the backoff has not passed). */
  waiting(key: string, now = Date.now()): boolean {
    const f = this.faults.get(key);
    return f !== undefined && now < f.nextRetryAt;
  }

  /** The work succeeded (or ended another way): forget its fault. */
  clear(key: string): void {
    this.faults.delete(key);
  }

  /** The most recent fault still pending, if any. */
  current(): ResourceFault | undefined {
    let newest: ResourceFault | undefined;
    for (const f of this.faults.values()) if (!newest || f.since >= newest.since) newest = f;
    return newest;
  }
}
