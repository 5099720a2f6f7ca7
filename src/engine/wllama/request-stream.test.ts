import { describe, expect, it } from 'vitest';
import { requestStream } from './request-stream.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A request shaped like wllama's: chunks arrive every few ms until it notices the abort, then it
 * spends a while cancelling in its worker before its promise settles.
 */
function request(log: string[], signal: AbortSignal, chunks = 100) {
  return async (onData: (c: number) => void) => {
    for (let i = 0; i < chunks; i++) {
      await sleep(2);
      if (signal.aborted) {
        await sleep(40); // the worker-side cancel
        log.push('request settled');
        throw new Error('aborted');
      }
      onData(i);
    }
    log.push('request settled');
  };
}

describe('requestStream', () => {
  it('yields every chunk in order and ends when the request completes', async () => {
    const log: string[] = [];
    const ctl = new AbortController();
    const got: number[] = [];
    for await (const c of requestStream(request(log, ctl.signal, 5), ctl.signal)) got.push(c);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(log).toEqual(['request settled']);
  });

  it('leaving early (abort, then break) returns only after the request has settled', async () => {
    const log: string[] = [];
    const ctl = new AbortController();
    for await (const c of requestStream(request(log, ctl.signal), ctl.signal)) {
      if (c === 3) {
        ctl.abort();
        break;
      }
    }
    log.push('stream left');
    expect(log).toEqual(['request settled', 'stream left']);
  });

  it('an abort while waiting for the next chunk ends the stream, again only once the request settled', async () => {
    const log: string[] = [];
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 15);
    const got: number[] = [];
    for await (const c of requestStream(request(log, ctl.signal), ctl.signal)) got.push(c);
    log.push('stream left');
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(100);
    expect(log).toEqual(['request settled', 'stream left']);
  });

  it("passes the request's own failure on", async () => {
    const ctl = new AbortController();
    const failing = async (onData: (c: number) => void) => {
      onData(1);
      await sleep(1);
      throw new Error('llama.cpp failed');
    };
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const c of requestStream(failing, ctl.signal)) got.push(c);
      })(),
    ).rejects.toThrow('llama.cpp failed');
    expect(got).toEqual([1]);
  });
});
