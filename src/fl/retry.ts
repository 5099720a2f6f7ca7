/**
 * HTTP requests to the federated server with retries: network failures, 5xx and 429 are retried
 * with capped exponential backoff and full jitter (AWS Architecture Blog, "Exponential Backoff
 * and Jitter": delay = random · min(cap, base · 2^attempt), so many clients that lost the server
 * at once do not come back in lock-step); other 4xx answers become a typed `ServerRefusedError`.
 */
import { NetworkError, RoundAbortedError, ServerRefusedError } from './errors.ts';

export interface RetryOptions {
  /** Attempts in total, the first included. Default 8. */
  attempts?: number;
  /** First backoff ceiling in ms. Default 250. */
  baseDelayMs?: number;
  /** Largest backoff ceiling in ms. Default 10 000. */
  maxDelayMs?: number;
  /** Uniform [0, 1) source for jitter (tests pass a seeded one). Default Math.random. */
  random?: () => number;
  /** Called before each wait, e.g. to show "다시 연결 중…" in the console. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

/** One attempt's answer; `request` builds a fresh request (new signature and nonce) per attempt. */
export type Attempt = () => Promise<Response>;

const RETRYABLE_STATUS = (s: number) => s >= 500 || s === 429;

/** Resolves after `ms`, or rejects with RoundAbortedError when `signal` fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new RoundAbortedError());
    const done = () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new RoundAbortedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The server's `{error:{code,message}}` body, if it sent one. */
async function refusal(res: Response, what: string): Promise<ServerRefusedError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText;
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // not JSON: keep the status text
  }
  return new ServerRefusedError(`${what}: ${code} (${res.status}) ${message}`, res.status, code);
}

/**
 * Runs `attempt` until it answers 2xx/3xx, retrying what may succeed later.
 * @throws {ServerRefusedError} on a 4xx other than 429 (not retried).
 * @throws {NetworkError} when every attempt failed on the network, with 5xx or with 429.
 * @throws {RoundAbortedError} when `signal` aborts.
 */
export async function requestWithRetry(
  what: string,
  attempt: Attempt,
  opts: RetryOptions = {},
  signal?: AbortSignal,
): Promise<Response> {
  const attempts = opts.attempts ?? 8;
  const base = opts.baseDelayMs ?? 250;
  const cap = opts.maxDelayMs ?? 10_000;
  const random = opts.random ?? Math.random;
  let last = '';
  for (let i = 0; i < attempts; i++) {
    if (signal?.aborted) throw new RoundAbortedError();
    let lastCause: unknown;
    try {
      const res = await attempt();
      if (res.ok) return res;
      if (!RETRYABLE_STATUS(res.status)) throw await refusal(res, what);
      last = `HTTP ${res.status}`;
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      if (err instanceof ServerRefusedError || err instanceof RoundAbortedError) throw err;
      if (signal?.aborted) throw new RoundAbortedError();
      lastCause = err;
      last = err instanceof Error ? err.message : String(err);
    }
    if (i === attempts - 1)
      throw new NetworkError(`${what}: no answer after ${attempts} attempts (${last})`, { cause: lastCause });
    const delayMs = Math.round(random() * Math.min(cap, base * 2 ** i));
    opts.onRetry?.({ attempt: i + 1, delayMs, reason: last });
    await sleep(delayMs, signal);
  }
  throw new NetworkError(`${what}: no attempts made`);
}
