import { describe, expect, it } from 'vitest';
import { connectionLoss, isReadOnly, withRetry } from './retry.ts';

/** The shapes `pg` produces: a DatabaseError with a SQLSTATE, a socket error, a dead client. */
const adminShutdown = Object.assign(new Error('terminating connection due to administrator command'), {
  code: '57P01',
});
const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
const terminated = new Error('Connection terminated unexpectedly');
const uniqueViolation = Object.assign(new Error('duplicate key value'), { code: '23505' });

describe('database retry after a lost connection', () => {
  it('classifies what the server aborted, dead sockets, and ordinary errors', () => {
    expect(connectionLoss(adminShutdown)).toBe('server-aborted');
    expect(connectionLoss(Object.assign(new Error('x'), { code: '08006' }))).toBe('server-aborted');
    expect(connectionLoss(reset)).toBe('socket');
    expect(connectionLoss(terminated)).toBe('socket');
    expect(connectionLoss(uniqueViolation)).toBe('none');
    expect(connectionLoss(null)).toBe('none');
    expect(isReadOnly('  select 1')).toBe(true);
    expect(isReadOnly('WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x')).toBe(false);
    expect(isReadOnly('INSERT INTO t VALUES (1)')).toBe(false);
  });

  it('retries with doubling, bounded backoff and then succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const out = await withRetry(
      async () => {
        if (++calls < 5) throw adminShutdown;
        return 'ok';
      },
      (e) => connectionLoss(e) !== 'none',
      { baseDelayMs: 1, maxDelayMs: 4, onRetry: (_n, _e, d) => delays.push(d) },
    );
    expect(out).toBe('ok');
    expect(delays).toEqual([1, 2, 4, 4]);
  });

  it('gives up after the attempts and never retries an ordinary error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw reset;
        },
        () => true,
        { attempts: 3, baseDelayMs: 1 },
      ),
    ).rejects.toBe(reset);
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw uniqueViolation;
        },
        (e) => connectionLoss(e) !== 'none',
      ),
    ).rejects.toBe(uniqueViolation);
    expect(calls).toBe(1);
  });
});
