/**
 * What the console shows during two real rounds: the real round client against the real server
 * (loopback, PGlite), its progress read by `progressEvents` into a real `ConsoleSession`. The
 * trainer is a test double (the protocol and the display are under test, not learning).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyTask } from '../../federated-server/src/testing/harness.ts';
import { RoundClient, type LocalData } from '../fl/round-client.ts';
import { openFileStore } from '../fl/store-file.ts';
import type { ClientStore } from '../fl/store-api.ts';
import { listenServer, type ListeningServer } from '../testing/test-server.ts';
import type { EvalResult, LoraTensors, LoraTrainer, StepResult, TrainExample } from '../training/api.ts';
import { progressEvents } from './progress-events.ts';
import { ConsoleSession, type ConsoleDriver, type DriverEvent } from './session.svelte.ts';

/** TEST DOUBLE: each step moves the adapter toward `target`; loss is the distance from it. */
class DoubleTrainer implements LoraTrainer {
  readonly maxSeqLen = 64;
  private a!: LoraTensors;
  constructor(private readonly target: number) {}
  async setAdapter(a: LoraTensors): Promise<void> {
    this.a = { ...a, tensors: new Map([...a.tensors].map(([k, v]) => [k, v.slice()])) };
  }
  async getAdapter(): Promise<LoraTensors> {
    return { ...this.a, tensors: new Map([...this.a.tensors].map(([k, v]) => [k, v.slice()])) };
  }
  private loss(): number {
    let sq = 0;
    let n = 0;
    for (const v of this.a.tensors.values())
      for (const x of v) {
        sq += (x - this.target) ** 2;
        n++;
      }
    return sq / n;
  }
  async step(ex: TrainExample[]): Promise<StepResult> {
    const loss = this.loss();
    for (const v of this.a.tensors.values())
      for (let i = 0; i < v.length; i++) v[i]! += 0.2 * (this.target - v[i]!);
    return { loss, tokens: ex.length };
  }
  async gradients(): Promise<{ loss: number; tokens: number; grads: Map<string, Float32Array> }> {
    return { loss: this.loss(), tokens: 0, grads: new Map() };
  }
  async evaluate(ex: TrainExample[]): Promise<EvalResult> {
    const loss = this.loss();
    return { loss, perplexity: Math.exp(loss), tokens: ex.length };
  }
  dispose(): void {}
}

const example = (k: number): TrainExample => ({
  ids: Uint32Array.from([1, 2 + k, 3]),
  lossMask: Uint8Array.from([0, 1, 1]),
});
const data = (n: number): LocalData => ({
  train: Array.from({ length: n }, (_, k) => example(k)),
  validation: [example(99)],
});
const jsonl = (n: number) =>
  new File(
    Array.from({ length: n }, (_, i) => JSON.stringify({ instruction: `q${i}`, output: `a${i}` }) + '\n'),
    'd.jsonl',
  );

describe('console progress over two real rounds', () => {
  let srv: ListeningServer;
  let dir: string;
  const stores: ClientStore[] = [];
  beforeAll(async () => {
    srv = await listenServer({ tickMs: 20 });
    dir = mkdtempSync(join(tmpdir(), 'dure-console-progress-'));
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows each phase as it starts with its round number, and keeps the two rounds apart', async () => {
    const open = (name: string) => {
      const s = openFileStore(join(dir, `${name}.json`));
      stores.push(s);
      return s;
    };
    const task = await srv.startTask(tinyTask({ rounds: 2, minParticipants: 2, maxUpdateNorm: 1000 }));
    const client = (s: ClientStore, target: number) =>
      new RoundClient({
        serverUrl: srv.url,
        taskId: task.id,
        store: s,
        trainer: () => new DoubleTrainer(target),
        pollIntervalMs: 40,
        batchSize: 2,
      });
    const [sa, sb] = [open('a'), open('b')];
    const ia = await client(sa, 0).enroll(await srv.enrollmentCode('가 구청'));
    const ib = await client(sb, 0).enroll(await srv.enrollmentCode('나 병원'));
    await srv.addMembers(task.id, [ia.institutionId, ib.institutionId]);

    const shown: string[] = [];
    const afterLoss = new Map<number, number>();
    const seen: { session: ConsoleSession | null } = { session: null };
    const driver: ConsoleDriver = {
      identity: async () => ({ serverUrl: srv.url, institutionId: ia.institutionId, name: '가 구청' }),
      enroll: async () => {
        throw new Error('unused');
      },
      forget: async () => undefined,
      history: async () => [],
      participate: async ({ onEvent, signal }) => {
        let submitted: number | null = null;
        const emit = (e: DriverEvent) => {
          onEvent(e);
          const session = seen.session!;
          const line = `${session.phaseRound ?? '-'} ${session.phase}${session.phaseStep ? ` ${session.phaseStep.step}/${session.phaseStep.total}` : ''}`;
          if (shown.at(-1) !== line) shown.push(line);
        };
        const a = new RoundClient({
          serverUrl: srv.url,
          taskId: task.id,
          store: sa,
          trainer: () => new DoubleTrainer(0.5),
          pollIntervalMs: 40,
          batchSize: 2,
          onProgress: (p) => {
            if (p.phase === 'uploaded') submitted = p.round;
            if (p.phase === 'evaluated' && p.when === 'after') afterLoss.set(p.round, p.result.loss);
            for (const e of progressEvents(p, submitted)) emit(e);
          },
        });
        // B sends each round's update only after A has sent its own, so A is seen waiting for it.
        const b = client(sb, -0.25);
        const slowB = (async () => {
          for (const r of [1, 2]) {
            while (submitted !== r) await new Promise((res) => setTimeout(res, 10));
            await b.runRound(data(2), signal);
          }
        })();
        await a.participate(data(4), { maxRounds: 3, signal });
        await slowB;
        emit({ kind: 'phase', phase: 'done' });
      },
    };
    const session = new ConsoleSession(driver);
    seen.session = session;
    await session.init();
    await session.loadFile(jsonl(10));
    await session.join();

    expect(session.error).toBeNull();
    // 4 examples, batch 2, one epoch: 2 steps a round.
    const round = (n: number) => [
      `${n} downloading`,
      `${n} preparing`,
      `${n} evaluating-before`,
      `${n} training 1/2`,
      `${n} training 2/2`,
      `${n} evaluating-after`,
      `${n} signing`,
      `${n} uploading`,
      `${n} submitted`,
      `${n} waiting-others`,
    ];
    for (const n of [1, 2]) {
      const at = shown.indexOf(`${n} downloading`);
      expect(shown.slice(at, at + 10), shown.join('\n')).toEqual(round(n));
    }
    expect(shown.at(-1)).toMatch(/ done$/);
    // Round 1's step losses are their own series; round 2's are the current one, never joined.
    expect(session.pastSteps.map((s) => [s.round, s.points.map((p) => p.x)])).toEqual([[1, [1, 2]]]);
    expect(session.steps.map((p) => p.x)).toEqual([1, 2]);
    // "학습 후" is this round's value, not round 1's.
    expect(session.after?.loss).toBe(afterLoss.get(2));
    expect(afterLoss.get(2)).not.toBe(afterLoss.get(1));
  }, 60_000);
});
