/** Backoff with full jitter: what is retried, how long it waits, and what is not retried. */
import { describe, expect, it } from 'vitest';
import { NetworkError, RoundAbortedError, ServerRefusedError } from './errors.ts';
import { requestWithRetry } from './retry.ts';

const answer = (status: number, body: unknown = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('requestWithRetry', () => {
  it('retries network failures, 5xx and 429 with capped, jittered exponential delays', async () => {
    const replies: (() => Response)[] = [
      () => {
        throw new TypeError('fetch failed');
      },
      () => answer(503),
      () => answer(429, { error: { code: 'RATE_LIMITED', message: 'slow down' } }),
      () => answer(500),
      () => answer(200, { ok: true }),
    ];
    const waits: number[] = [];
    let i = 0;
    const res = await requestWithRetry('test', async () => replies[i++]!(), {
      baseDelayMs: 10,
      maxDelayMs: 40,
      random: () => 0.5,
      onRetry: (r) => waits.push(r.delayMs),
    });
    expect(await res.json()).toEqual({ ok: true });
    expect(waits).toEqual([5, 10, 20, 20]); // 0.5 × min(40, 10·2^i)
  });

  it('does not retry other 4xx: the server code becomes a typed refusal', async () => {
    let calls = 0;
    const err = await requestWithRetry('uploading', async () => {
      calls++;
      return answer(422, { error: { code: 'NORM_EXCEEDED', message: 'update norm 9 exceeds the bound 5' } });
    }).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(err).toBeInstanceOf(ServerRefusedError);
    expect(err).toMatchObject({ status: 422, serverCode: 'NORM_EXCEEDED', code: 'SERVER_REFUSED' });
    expect((err as Error).message).toContain('update norm 9 exceeds the bound 5');
  });

  it('gives up after the configured attempts with NetworkError, and stops at once when aborted', async () => {
    let calls = 0;
    const fail = async () => {
      calls++;
      throw new TypeError('fetch failed');
    };
    await expect(requestWithRetry('x', fail, { attempts: 3, baseDelayMs: 1 })).rejects.toBeInstanceOf(
      NetworkError,
    );
    expect(calls).toBe(3);
    const ctl = new AbortController();
    const pending = requestWithRetry(
      'x',
      fail,
      { attempts: 10, baseDelayMs: 60_000, random: () => 1 },
      ctl.signal,
    );
    setTimeout(() => ctl.abort(), 20);
    await expect(pending).rejects.toBeInstanceOf(RoundAbortedError);
  });
});
