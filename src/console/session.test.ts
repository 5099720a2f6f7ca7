import { describe, expect, it } from 'vitest';
import { DureError } from '../engine/errors.ts';
import {
  ConsoleSession,
  type Contribution,
  type ConsoleDriver,
  type ParticipateOptions,
} from './session.svelte.ts';

const contribution = (round: number, after: number): Contribution => ({
  taskId: 'task_x',
  round,
  examples: 10,
  trainLoss: 2,
  before: { loss: 3, perplexity: Math.exp(3) },
  after: { loss: after, perplexity: Math.exp(after) },
  sha256: 'ab'.repeat(32),
  updateId: round,
  at: '2026-11-23T00:00:00Z',
});

function driver(over: Partial<ConsoleDriver> = {}): ConsoleDriver & { seen: ParticipateOptions[] } {
  const seen: ParticipateOptions[] = [];
  return {
    seen,
    identity: async () => null,
    enroll: async (serverUrl) => ({ serverUrl, institutionId: 'inst_1', name: '행복시청' }),
    forget: async () => undefined,
    history: async () => [contribution(1, 2.5)],
    participate: async (p) => {
      seen.push(p);
      p.onEvent({
        kind: 'round',
        info: {
          taskId: 'task_x',
          taskName: '민원',
          round: 2,
          roundState: 'open',
          deadline: '2026-11-24T00:00:00Z',
        },
      });
      p.onEvent({
        kind: 'round',
        info: { taskId: 'task_x', taskName: '민원', round: 2, roundState: 'collecting', deadline: null },
      });
      p.onEvent({ kind: 'eval', which: 'before', result: { loss: 2.5, perplexity: 12.2 } });
      for (let s = 1; s <= 3; s++) p.onEvent({ kind: 'step', step: s, total: 3, loss: 3 - s / 2 });
      p.onEvent({ kind: 'eval', which: 'after', result: { loss: 2, perplexity: 7.4 } });
      p.onEvent({ kind: 'contribution', contribution: contribution(2, 2) });
      // The task ended: no round is open any more, the last one's results stay on screen.
      p.onEvent({
        kind: 'round',
        info: { taskId: 'task_x', taskName: '민원', round: null, roundState: null, deadline: null },
      });
      p.onEvent({ kind: 'phase', phase: 'done' });
    },
    ...over,
  };
}

const jsonl = (n: number) =>
  new File(
    Array.from({ length: n }, (_, i) => JSON.stringify({ instruction: `q${i}`, output: `a${i}` }) + '\n'),
    'd.jsonl',
  );

describe('ConsoleSession', () => {
  it('joins only when enrolled and holding training data, then follows the driver events', async () => {
    const d = driver();
    const s = new ConsoleSession(d);
    await s.init();
    expect(s.roundLoss).toEqual([{ x: 1, y: 2.5 }]);
    expect(s.canJoin).toBe(false);
    await s.join();
    expect(d.seen).toHaveLength(0);

    await s.enroll(' http://fl.example ', ' code ');
    await s.loadFile(jsonl(10));
    expect(s.dataset?.train).toHaveLength(9);
    expect(s.canJoin).toBe(true);
    await s.join();
    expect(d.seen[0]!.train).toHaveLength(9);
    expect(d.seen[0]!.validation).toHaveLength(1);
    expect(s.round).toMatchObject({ round: 2, roundState: 'collecting', deadline: '2026-11-24T00:00:00Z' });
    expect(s.steps.map((p) => p.x)).toEqual([1, 2, 3]);
    expect(s.totalSteps).toBe(3);
    expect([s.before?.loss, s.after?.loss]).toEqual([2.5, 2]);
    expect(s.roundLoss).toEqual([
      { x: 1, y: 2.5 },
      { x: 2, y: 2 },
    ]);
    expect(s.phase).toBe('done');
    expect(s.running).toBe(false);
  });

  it('keeps one history row per round when secure-aggregation receipts all carry updateId 0', async () => {
    const secure = (round: number, after: number) => ({ ...contribution(round, after), updateId: 0 });
    const s = new ConsoleSession(
      driver({
        identity: async () => ({ serverUrl: 'u', institutionId: 'i', name: 'n' }),
        history: async () => [],
        participate: async (p) => {
          p.onEvent({ kind: 'contribution', contribution: secure(1, 2.5) });
          p.onEvent({ kind: 'contribution', contribution: secure(2, 2) });
          p.onEvent({ kind: 'contribution', contribution: secure(2, 2) }); // the same round again
          p.onEvent({ kind: 'phase', phase: 'done' });
        },
      }),
    );
    await s.init();
    await s.loadFile(jsonl(10));
    await s.join();
    expect(s.history.map((c) => c.round)).toEqual([1, 2]);
  });

  it('shows typed errors from enrollment, reading and rounds, and leaving is not an error', async () => {
    const s = new ConsoleSession(
      driver({
        enroll: async () => {
          throw new DureError('SERVER_REFUSED', 'bad code');
        },
      }),
    );
    await s.enroll('http://fl.example', 'nope');
    expect(s.identity).toBeNull();
    expect(s.error?.code).toBe('SERVER_REFUSED');

    await s.loadFile(new File([new Uint8Array([0xff, 0xfe])], 'x.jsonl'));
    expect(s.error?.code).toBe('DATASET_ENCODING');
    expect(s.dataset).toBeNull();

    const failing = new ConsoleSession(
      driver({
        identity: async () => ({ serverUrl: 'u', institutionId: 'i', name: 'n' }),
        participate: async () => {
          throw new DureError('NETWORK', 'down');
        },
      }),
    );
    await failing.init();
    await failing.loadFile(jsonl(3));
    await failing.join();
    expect([failing.phase, failing.error?.code]).toEqual(['error', 'NETWORK']);

    const leaving = new ConsoleSession(
      driver({
        identity: async () => ({ serverUrl: 'u', institutionId: 'i', name: 'n' }),
        participate: (p) =>
          new Promise((_, reject) =>
            p.signal.addEventListener('abort', () => reject(new DureError('ROUND_ABORTED', 'stop'))),
          ),
      }),
    );
    await leaving.init();
    await leaving.loadFile(jsonl(3));
    const joined = leaving.join();
    expect(leaving.running).toBe(true);
    leaving.leave();
    await joined;
    expect([leaving.phase, leaving.error, leaving.running]).toEqual(['idle', null, false]);
  });

  it("masks names and the institution's patterns, keeps the patterns, and says a reopened page forgot the file", async () => {
    const store = new Map<string, string>();
    const prefs = {
      get: (k: string) => store.get(k) ?? null,
      set: (k: string, v: string) => void store.set(k, v),
      remove: (k: string) => void store.delete(k),
    };
    const s = new ConsoleSession(driver(), prefs);
    await s.init();
    expect(s.forgottenDataset).toBeNull();
    const file = new File(
      [
        JSON.stringify({ instruction: '제 이름은 강슬기이고 사건번호 2023가합12345 문의', output: '네' }) +
          '\n',
        JSON.stringify({ instruction: 'q', output: 'a' }) + '\n',
      ],
      'cases.jsonl',
    );
    await s.loadFile(file);
    expect(JSON.stringify(s.dataset?.records)).not.toContain('강슬기');
    expect(JSON.stringify(s.dataset?.records)).toContain('2023가합12345');

    expect(await s.setCustomPatterns([{ label: '사건번호', pattern: '(\\d+)+가' }])).toBe(false);
    expect(s.patternError?.code).toBe('CUSTOM_PATTERN_UNSAFE');
    expect(await s.setCustomPatterns([{ label: '사건번호', pattern: '\\d{4}[가-힣]{1,2}\\d{1,6}' }])).toBe(
      true,
    );
    // The chosen file was read again with the pattern.
    expect(JSON.stringify(s.dataset?.records)).toContain('[사건번호]');
    expect(s.dataset?.pii.byKind).toMatchObject({ name: 1, custom: 1 });

    const reopened = new ConsoleSession(driver(), prefs);
    await reopened.init();
    expect(reopened.customPatterns).toEqual([{ label: '사건번호', pattern: '\\d{4}[가-힣]{1,2}\\d{1,6}' }]);
    expect(reopened.dataset).toBeNull();
    expect(reopened.forgottenDataset?.name).toBe('cases.jsonl');
    await reopened.loadFile(file);
    expect(reopened.forgottenDataset).toBeNull();
  });
});
