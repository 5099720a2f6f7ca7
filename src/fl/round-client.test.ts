/**
 * The round client against the real federated server over loopback HTTP (PGlite storage): enrol,
 * full rounds of FedAvg and FFA-LoRA with two institutions, clipping to the task's bound, typed
 * refusals, retries across a SIGKILLed and restarted server process, and resuming after a
 * "reload" (a new client on the same store) with the pending update counted exactly once.
 *
 * The trainer here is a TEST DOUBLE (`TestDoubleTrainer`): these tests are about the protocol
 * (what is sent, retried, stored and resumed), not about learning. The federation demo and its
 * test (scripts/demo-federation*.ts) use Dure's real WebGPU trainer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient, httpTransport } from '../../federated-server/src/testing/client.ts';
import { freshDataDir, tinyTask, TEST_ADMIN_TOKEN } from '../../federated-server/src/testing/harness.ts';
import { readSafetensors } from '../protocol/safetensors.ts';
import type { Task } from '../protocol/schemas.ts';
import type { EvalResult, LoraTensors, LoraTrainer, StepResult, TrainExample } from '../training/api.ts';
import { NetworkError, ServerRefusedError, TrainerContractError } from './errors.ts';
import { RoundClient, type LocalData, type RoundOutcome } from './round-client.ts';
import { openFileStore } from './store-file.ts';
import type { ClientStore } from './store-api.ts';
import { listenServer, type ListeningServer } from '../testing/test-server.ts';

/**
 * TEST DOUBLE of a LoRA trainer (not Dure's trainer): each step moves every trainable value a
 * fraction of the way toward `target`; "loss" is the mean squared distance from it. Counts steps so
 * tests can prove a resumed round did not train again.
 */
class TestDoubleTrainer implements LoraTrainer {
  readonly maxSeqLen = 64;
  steps = 0;
  private adapter!: LoraTensors;
  constructor(
    private readonly target: number,
    private readonly trainA: boolean,
    private readonly breakFfa = false,
  ) {}
  async setAdapter(a: LoraTensors): Promise<void> {
    this.adapter = { ...a, tensors: new Map([...a.tensors].map(([k, v]) => [k, v.slice()])) };
  }
  async getAdapter(): Promise<LoraTensors> {
    return { ...this.adapter, tensors: new Map([...this.adapter.tensors].map(([k, v]) => [k, v.slice()])) };
  }
  private trainable(name: string): boolean {
    return this.trainA || this.breakFfa || name.endsWith('lora_B.weight');
  }
  private loss(): number {
    let sq = 0;
    let n = 0;
    for (const [name, v] of this.adapter.tensors)
      if (this.trainable(name))
        for (const x of v) {
          sq += (x - this.target) ** 2;
          n++;
        }
    return sq / n;
  }
  async step(examples: TrainExample[]): Promise<StepResult> {
    this.steps++;
    const loss = this.loss();
    for (const [name, v] of this.adapter.tensors)
      if (this.trainable(name)) for (let i = 0; i < v.length; i++) v[i]! += 0.2 * (this.target - v[i]!);
    return { loss, tokens: examples.length };
  }
  async gradients(): Promise<{ loss: number; tokens: number; grads: Map<string, Float32Array> }> {
    return { loss: this.loss(), tokens: 0, grads: new Map() };
  }
  async evaluate(examples: TrainExample[]): Promise<EvalResult> {
    const loss = this.loss();
    return { loss, perplexity: Math.exp(loss), tokens: examples.length };
  }
  dispose(): void {}
}

const example = (k: number): TrainExample => ({
  ids: Uint32Array.from([1, 2 + k, 3]),
  lossMask: Uint8Array.from([0, 1, 1]),
});
const data = (nTrain: number): LocalData => ({
  train: Array.from({ length: nTrain }, (_, k) => example(k)),
  validation: [example(99)],
});

interface Recorded {
  uploads: Uint8Array[];
  calls: number;
}

/** Records upload bodies and can fail chosen requests before or after they reach the server. */
function recordingFetch(
  rec: Recorded,
  fault?: (url: string, init: RequestInit | undefined) => 'before' | 'after' | undefined,
): typeof fetch {
  return async (input, init) => {
    const url = String(input);
    rec.calls++;
    const mode = fault?.(url, init);
    if (mode === 'before') throw new TypeError('fetch failed (test: connection refused)');
    if (url.includes('/updates') && init?.body instanceof Uint8Array)
      rec.uploads.push(new Uint8Array(init.body));
    const res = await fetch(input, init);
    if (mode === 'after') {
      await res.arrayBuffer();
      throw new TypeError('fetch failed (test: connection reset after the request was sent)');
    }
    return res;
  };
}

const fastRetry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface TaskDetail {
  task: Task;
  rounds: { number: number; state: string; participants: { institutionId: string }[] }[];
  versions: { version: number; sha256: string }[];
}

describe('round client against the real server', () => {
  let srv: ListeningServer;
  let dir: string;
  const stores: ClientStore[] = [];
  const store = (name: string) => {
    const s = openFileStore(join(dir, `${name}.json`));
    stores.push(s);
    return s;
  };
  beforeAll(async () => {
    srv = await listenServer({ tickMs: 30 });
    dir = mkdtempSync(join(tmpdir(), 'dure-fl-client-'));
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (
    s: ClientStore,
    taskId: string,
    trainer: LoraTrainer,
    f?: typeof fetch,
    retry = fastRetry,
  ) =>
    new RoundClient({
      serverUrl: srv.url,
      taskId,
      store: s,
      trainer: () => trainer,
      ...(f ? { fetch: f } : {}),
      pollIntervalMs: 30,
      batchSize: 2,
      retry,
    });
  const detail = (taskId: string) => srv.admin.call<TaskDetail>('GET', `/v1/admin/tasks/${taskId}`);
  /** Earlier tests enrolled more institutions than a round here waits for: pass the deadline. */
  const pastDeadline = () => srv.server.coordinator.tick(Date.now() + 3601 * 1000);
  const acceptedFrom = async (institutionId: string, taskId: string) =>
    (
      await srv.admin.call<{ type: string; actor: string; data: { taskId?: string } }[]>(
        'GET',
        '/v1/admin/audit?limit=1000',
      )
    ).filter((e) => e.type === 'update.accepted' && e.actor === institutionId && e.data.taskId === taskId)
      .length;

  it('enrolls once with the one-time code, keeps the key in the store, and refuses a used code without retrying', async () => {
    const code = await srv.enrollmentCode('행복시청 민원과');
    const s = store('enroll');
    const c = client(s, 'task_x', new TestDoubleTrainer(0, true));
    const id = await c.enroll(code);
    expect(id).toMatchObject({ serverUrl: srv.url, name: '행복시청 민원과' });
    expect(id.privateKey.extractable).toBe(false);
    // a "reload": a new client on the same store is enrolled, and signs as that institution
    const again = client(openFileStore(join(dir, 'enroll.json')), 'task_x', new TestDoubleTrainer(0, true));
    expect((await again.identity()).institutionId).toBe(id.institutionId);
    expect((await again.enroll('unused-code-unused-code')).institutionId).toBe(id.institutionId);

    const rec: Recorded = { uploads: [], calls: 0 };
    const other = client(
      store('enroll-other'),
      'task_x',
      new TestDoubleTrainer(0, true),
      recordingFetch(rec),
    );
    const err = await other.enroll(code).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerRefusedError);
    expect(err).toMatchObject({ code: 'SERVER_REFUSED', status: 401, serverCode: 'BAD_ENROLLMENT_CODE' });
    expect(rec.calls).toBe(1);
  });

  it('retries an enrolment whose reply was lost with the same stored key, in the same call and after a reload', async () => {
    type AuditRow = { type: string; actor: string; data: { publicKeySha256?: string } };
    const auditOf = async (institutionId: string) =>
      (await srv.admin.call<AuditRow[]>('GET', '/v1/admin/audit?limit=1000')).filter(
        (e) => e.actor === institutionId,
      );
    const loseEnrolReplies = (n: number) => (u: string) =>
      u.endsWith('/v1/enroll') && n-- > 0 ? 'after' : undefined;

    // 1. the server commits, the reply is lost, and retries run out: the key stays pending
    const code = await srv.enrollmentCode('재시도 구청');
    const rec: Recorded = { uploads: [], calls: 0 };
    const path = join(dir, 'lost-enrol.json');
    const noRetry = { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 };
    const lost = client(
      store('lost-enrol'),
      'task_x',
      new TestDoubleTrainer(0, true),
      recordingFetch(rec, loseEnrolReplies(1)),
      noRetry,
    );
    expect(await lost.enroll(code).catch((e: unknown) => e)).toBeInstanceOf(NetworkError);
    expect(await openFileStore(path).getIdentity()).toBeUndefined();
    const pending = await openFileStore(path).getPendingKey();
    expect(pending).toMatchObject({ serverUrl: srv.url });

    // 2. a reload: the same code and the stored key get the committed enrolment back
    const back = client(openFileStore(path), 'task_x', new TestDoubleTrainer(0, true), recordingFetch(rec));
    const id = await back.enroll(code);
    expect(id).toMatchObject({ serverUrl: srv.url, name: '재시도 구청', publicKey: pending!.publicKey });
    expect(rec.calls).toBe(2);
    const stored = openFileStore(path);
    expect(await stored.getIdentity()).toMatchObject({
      institutionId: id.institutionId,
      publicKey: pending!.publicKey,
    });
    expect(await stored.getPendingKey()).toBeUndefined();
    const keyHash = createHash('sha256').update(pending!.publicKey).digest('hex');
    expect((await auditOf(id.institutionId)).map((e) => [e.type, e.data.publicKeySha256])).toEqual([
      ['institution.enrolled', keyHash],
      ['institution.enrollment_repeated', keyHash],
    ]);
    // the stored key signs as the institution: a signed request passes authentication (401 if
    // not) and reaches the task lookup, which has no task_x
    expect(await back.work().catch((e: unknown) => e)).toMatchObject({
      status: 404,
      serverCode: 'NOT_FOUND',
    });

    // 3. within one call: the first reply is lost, the retry with the same key succeeds
    const code2 = await srv.enrollmentCode('재시도 병원');
    const rec2: Recorded = { uploads: [], calls: 0 };
    const s2 = store('lost-enrol-2');
    const id2 = await client(
      s2,
      'task_x',
      new TestDoubleTrainer(0, true),
      recordingFetch(rec2, loseEnrolReplies(1)),
    ).enroll(code2);
    expect(rec2.calls).toBe(2);
    expect((await auditOf(id2.institutionId)).map((e) => e.type)).toEqual([
      'institution.enrolled',
      'institution.enrollment_repeated',
    ]);
    expect((await s2.getIdentity())?.publicKey).toBe(id2.publicKey);
  });

  it('runs a FedAvg round with two member institutions: with weights capped by the admin, the new global adapter is the example-weighted mean of what they sent', async () => {
    const task = await srv.startTask(tinyTask({ rounds: 1, minParticipants: 2, maxUpdateNorm: 1000 }));
    const [sa, sb] = [store('fedavg-a'), store('fedavg-b')];
    const recA: Recorded = { uploads: [], calls: 0 };
    const recB: Recorded = { uploads: [], calls: 0 };
    const [ta, tb] = [new TestDoubleTrainer(0.5, true), new TestDoubleTrainer(-0.25, true)];
    const a = client(sa, task.id, ta, recordingFetch(recA));
    const b = client(sb, task.id, tb, recordingFetch(recB));
    const ia = await a.enroll(await srv.enrollmentCode('A 구청'));
    const ib = await b.enroll(await srv.enrollmentCode('B 병원'));
    // a cap above both counts: each weighs min(reported, 1000), i.e. its examples (6 and 2)
    await srv.addMembers(task.id, [ia.institutionId, ib.institutionId], { maxWeight: 1000 });
    const phases: string[] = [];
    const progressA = new RoundClient({
      serverUrl: srv.url,
      taskId: task.id,
      store: sa,
      trainer: () => ta,
      fetch: recordingFetch(recA),
      pollIntervalMs: 30,
      batchSize: 2,
      onProgress: (p) =>
        phases.push(
          p.phase === 'step' || p.phase === 'training'
            ? `${p.phase} ${p.step}/${p.steps}`
            : p.phase === 'evaluating' || p.phase === 'evaluated'
              ? `${p.phase} ${p.when}`
              : p.phase,
        ),
    });
    const [oa, ob] = await Promise.all([progressA.runRound(data(6)), b.runRound(data(2))]);
    expect(oa).toMatchObject({
      kind: 'contributed',
      round: 1,
      resumed: false,
      receipt: { duplicate: false },
    });
    expect(ob).toMatchObject({ kind: 'contributed', round: 1 });
    // localSteps 10 but localEpochs 1: ⌈6/2⌉ = 3 steps for A, 1 for B
    expect([ta.steps, tb.steps]).toEqual([3, 1]);
    // Each phase is announced as it starts, so a slow one is never shown as the one before it.
    expect(phases).toEqual([
      'downloading',
      'preparing',
      'evaluating before',
      'evaluated before',
      'step 1/3',
      'training 1/3',
      'step 2/3',
      'training 2/3',
      'step 3/3',
      'training 3/3',
      'evaluating after',
      'evaluated after',
      'signing',
      'uploading',
      'uploaded',
    ]);
    if (oa.kind !== 'contributed') throw new Error('unreachable');
    expect(oa.metrics.evalAfter.loss).toBeLessThan(oa.metrics.evalBefore.loss);
    expect(oa.metrics).toMatchObject({ numExamples: 6, steps: 3, clipped: false, trainA: true });

    await pastDeadline();
    const d = await waitFor(async () => {
      const x = await detail(task.id);
      return x.task.state === 'completed' ? x : undefined;
    }, 'the round to aggregate');
    expect(d.versions.map((v) => v.version)).toEqual([0, 1]);
    const ua = readSafetensors(recA.uploads[0]!);
    const ub = readSafetensors(recB.uploads[0]!);
    expect(ua.metadata).toMatchObject({ 'dure.num_examples': '6', 'dure.round': '1' });
    expect(ua.tensors.size).toBe(4); // A and B of q_proj and v_proj
    const v1 = readSafetensors((await srv.admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/1`)).body);
    for (const [name, t] of ua.tensors) {
      const expected = t.data.map((v, i) => (6 * v + 2 * ub.tensors.get(name)!.data[i]!) / 8);
      v1.tensors.get(name)!.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    }
    // the task is over: the client says so instead of waiting
    expect(await a.runRound(data(6))).toEqual({ kind: 'task-ended', taskState: 'completed' });
    expect((await a.history()).map((r) => [r.round, r.stage, r.update.byteLength])).toEqual([
      [1, 'uploaded', 0],
    ]);
  });

  it('runs an FFA-LoRA round: only lora_B is sent and the global lora_A never changes; a trainer that moves A is caught', async () => {
    const task = await srv.startTask(
      tinyTask({ rounds: 1, minParticipants: 2, strategy: { name: 'ffa-lora' }, maxUpdateNorm: 1000 }),
    );
    const rec: Recorded = { uploads: [], calls: 0 };
    const a = client(store('ffa-a'), task.id, new TestDoubleTrainer(0.3, false), recordingFetch(rec));
    const b = client(store('ffa-b'), task.id, new TestDoubleTrainer(-0.3, false));
    const bad = client(store('ffa-bad'), task.id, new TestDoubleTrainer(0.3, false, true));
    const ids = [
      await a.enroll(await srv.enrollmentCode('C 보건소')),
      await b.enroll(await srv.enrollmentCode('D 복지관')),
      await bad.enroll(await srv.enrollmentCode('E 고장난 기관')),
    ];
    await srv.addMembers(
      task.id,
      ids.map((i) => i.institutionId),
    );
    const err = await bad.runRound(data(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainerContractError);
    const [oa] = await Promise.all([a.runRound(data(4)), b.runRound(data(2))]);
    expect(oa).toMatchObject({ kind: 'contributed', metrics: { trainA: false } });
    const sent = readSafetensors(rec.uploads[0]!);
    expect([...sent.tensors.keys()].every((n) => n.endsWith('lora_B.weight'))).toBe(true);
    expect(sent.tensors.size).toBe(2);
    await pastDeadline();
    await waitFor(
      async () => ((await detail(task.id)).task.state === 'completed' ? true : undefined),
      'FFA round',
    );
    const v0 = readSafetensors((await srv.admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/0`)).body);
    const v1 = readSafetensors((await srv.admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/1`)).body);
    for (const [name, t] of v0.tensors) {
      if (name.endsWith('lora_A.weight')) expect(v1.tensors.get(name)!.data).toEqual(t.data);
      else expect(v1.tensors.get(name)!.data).not.toEqual(t.data);
    }
  });

  it('clips an update to the task norm bound so the server accepts it', async () => {
    const task = await srv.startTask(tinyTask({ rounds: 1, minParticipants: 2, maxUpdateNorm: 0.05 }));
    const rec: Recorded = { uploads: [], calls: 0 };
    const c = client(store('clip'), task.id, new TestDoubleTrainer(3, true), recordingFetch(rec));
    // a second member makes up the cohort of two; its update is clipped as well
    const peer = client(store('clip-peer'), task.id, new TestDoubleTrainer(-3, true));
    const ids = [
      await c.enroll(await srv.enrollmentCode('F 의원')),
      await peer.enroll(await srv.enrollmentCode('F2 의원')),
    ];
    await srv.addMembers(
      task.id,
      ids.map((i) => i.institutionId),
    );
    const [o, op] = await Promise.all([c.runRound(data(4)), peer.runRound(data(4))]);
    expect(op).toMatchObject({ kind: 'contributed', metrics: { clipped: true } });
    if (o.kind !== 'contributed') throw new Error(`expected a contribution, got ${o.kind}`);
    expect(o.metrics.clipped).toBe(true);
    expect(o.metrics.updateNorm).toBeLessThanOrEqual(0.05);
    expect(o.metrics.updateNorm).toBeGreaterThan(0.049);
    await pastDeadline();
    const d = await waitFor(async () => {
      const x = await detail(task.id);
      return x.task.state === 'completed' ? x : undefined;
    }, 'the clipped round');
    expect(d.versions).toHaveLength(2);
  });

  it('resumes after a reload: a stored update is re-uploaded without training again and counted once', async () => {
    const task = await srv.startTask(tinyTask({ rounds: 1, minParticipants: 2, maxUpdateNorm: 1000 }));
    const s = store('resume');
    const rec: Recorded = { uploads: [], calls: 0 };
    // 1. the network goes down for every upload: retries run out, the update stays stored
    const first = new TestDoubleTrainer(0.2, true);
    const down = client(
      s,
      task.id,
      first,
      recordingFetch(rec, (u) => (u.includes('/updates') ? 'before' : undefined)),
    );
    const { institutionId } = await down.enroll(await srv.enrollmentCode('G 시청'));
    await srv.addMembers(task.id, [institutionId]);
    const err = await down.runRound(data(4)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(first.steps).toBe(2);
    const stored = await openFileStore(join(dir, 'resume.json')).latestRound(task.id);
    expect(stored).toMatchObject({ round: 1, stage: 'trained' });
    expect(stored!.update.byteLength).toBeGreaterThan(0);

    // 2. a reload whose upload reaches the server but whose answer is lost
    const second = new TestDoubleTrainer(0.2, true);
    let lose = true;
    const lossy = client(
      openFileStore(join(dir, 'resume.json')),
      task.id,
      second,
      recordingFetch(rec, (u) => {
        if (!u.includes('/updates') || !lose) return undefined;
        lose = false;
        return 'after';
      }),
      { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    );
    expect(await lossy.runRound(data(4)).catch((e: unknown) => e)).toBeInstanceOf(NetworkError);

    // 3. another reload: the same bytes again, recognised as a duplicate; still no training
    const third = new TestDoubleTrainer(0.2, true);
    const resumed = await client(
      openFileStore(join(dir, 'resume.json')),
      task.id,
      third,
      recordingFetch(rec),
    ).runRound(data(4));
    expect(resumed).toMatchObject({
      kind: 'contributed',
      round: 1,
      resumed: true,
      receipt: { duplicate: true },
    });
    expect([second.steps, third.steps]).toEqual([0, 0]);
    expect(new Set(rec.uploads.map((u) => Buffer.from(u).toString('base64'))).size).toBe(1);
    expect(rec.uploads.length).toBe(2); // the lost one and the duplicate (the first never left)
    expect(await acceptedFrom(institutionId, task.id)).toBe(1);
    const d = await detail(task.id);
    expect(d.rounds[0]!.participants.map((p) => p.institutionId)).toEqual([institutionId]);
    expect((await openFileStore(join(dir, 'resume.json')).latestRound(task.id))?.stage).toBe('uploaded');
  });

  it('gives up on an update whose round closed and trains for the next round', async () => {
    const task = await srv.startTask(
      tinyTask({ rounds: 2, minParticipants: 2, roundDeadlineSeconds: 3600, maxUpdateNorm: 1000 }),
    );
    const s = store('late');
    const t = new TestDoubleTrainer(0.1, true);
    const down = client(
      s,
      task.id,
      t,
      recordingFetch({ uploads: [], calls: 0 }, (u) => (u.includes('/updates') ? 'before' : undefined)),
    );
    const other = client(store('late-other'), task.id, new TestDoubleTrainer(-0.1, true));
    const other2 = client(store('late-other-2'), task.id, new TestDoubleTrainer(0.3, true));
    const ids = [
      await down.enroll(await srv.enrollmentCode('H 주민센터')),
      await other.enroll(await srv.enrollmentCode('I 주민센터')),
      await other2.enroll(await srv.enrollmentCode('J 주민센터')),
    ];
    await srv.addMembers(
      task.id,
      ids.map((i) => i.institutionId),
    );
    expect(await down.runRound(data(2)).catch((e: unknown) => e)).toBeInstanceOf(NetworkError);
    // round 1 closes without it (the other two members alone meet the quorum at the deadline)
    await Promise.all([other.runRound(data(2)), other2.runRound(data(2))]);
    await pastDeadline();
    const back = client(openFileStore(join(dir, 'late.json')), task.id, t);
    expect(await back.runRound(data(2))).toEqual({ kind: 'missed', round: 1, reason: 'LATE_UPDATE' });
    expect(await back.runRound(data(2))).toMatchObject({ kind: 'contributed', round: 2, resumed: false });
    expect((await back.history()).map((r) => [r.round, r.stage, r.reason])).toEqual([
      [1, 'abandoned', 'LATE_UPDATE'],
      [2, 'uploaded', undefined],
    ]);
  });
});

/** A free loopback port (the restarted server must come back where the client looks for it). */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

const STANDBY = resolve(import.meta.dirname, '../testing/test-standby-server.ts');

/** A server process with its code loaded; `go()` opens storage and listens on `port`. */
function spawnStandby(dataDir: string, port: number): { child: ChildProcess; go: () => Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', STANDBY], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DURE_DATA_DIR: dataDir,
      DURE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      DURE_LOG: 'off',
      DURE_TICK_MS: '50',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const seen = (text: string) =>
    new Promise<void>((res, rej) => {
      const check = () => out.includes(text) && res();
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        check();
      });
      child.on('exit', (code, signal) => rej(new Error(`server exited (${code ?? signal}): ${err}`)));
      check();
    });
  const loaded = seen('standby');
  const listening = seen('Dure federated server:');
  loaded.catch(() => undefined);
  listening.catch(() => undefined);
  return {
    child,
    go: async () => {
      await loaded;
      child.stdin!.write('go\n');
      await listening;
    },
  };
}

describe('round client across a killed and restarted server process', () => {
  let dataDir: string;
  let storeDir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dataDir = await freshDataDir();
    storeDir = mkdtempSync(join(tmpdir(), 'dure-fl-kill-'));
  });
  afterAll(() => {
    children.forEach((c) => c.kill('SIGKILL'));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(storeDir, { recursive: true, force: true });
  });

  it(
    'retries the upload with backoff while the server is down and lands it once it is back',
    { timeout: 90_000 },
    async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const first = spawnStandby(dataDir, port);
      const second = spawnStandby(dataDir, port); // loads its code while the first one serves
      children.push(first.child, second.child);
      await first.go();
      const admin = new AdminClient(httpTransport(url), TEST_ADMIN_TOKEN);
      const created = await admin.call<Task>(
        'POST',
        '/v1/admin/tasks',
        tinyTask({ rounds: 1, minParticipants: 2 }),
      );
      await admin.call('POST', `/v1/admin/tasks/${created.id}/start`);
      const codeFor = async (name: string) =>
        (await admin.call<{ enrollmentCode: string }>('POST', '/v1/admin/institutions', { name }))
          .enrollmentCode;
      // the cohort's other member contributes first, while the first server process still runs
      const peer = new RoundClient({
        serverUrl: url,
        taskId: created.id,
        store: openFileStore(join(storeDir, 'peer.json')),
        trainer: () => new TestDoubleTrainer(-0.4, true),
        pollIntervalMs: 30,
        batchSize: 2,
      });
      const peerId = await peer.enroll(await codeFor('재시작 보건소'));
      const retries: { attempt: number; delayMs: number; reason: string }[] = [];
      let restarted: Promise<void> | undefined;
      const trainer = new TestDoubleTrainer(0.4, true);
      const c = new RoundClient({
        serverUrl: url,
        taskId: created.id,
        store: openFileStore(join(storeDir, 'client.json')),
        trainer: () => trainer,
        pollIntervalMs: 30,
        batchSize: 2,
        retry: { attempts: 80, baseDelayMs: 100, maxDelayMs: 800, onRetry: (r) => retries.push(r) },
        // Mid-round, just before the upload: the server process is SIGKILLed, then restarted.
        fetch: async (input, init) => {
          if (String(input).includes('/updates') && !restarted) {
            first.child.kill('SIGKILL');
            await new Promise((r) => first.child.once('exit', r));
            restarted = second.go();
          }
          return fetch(input, init);
        },
      });
      const ownId = await c.enroll(await codeFor('재시작 병원'));
      for (const { institutionId } of [peerId, ownId])
        await admin.call('POST', `/v1/admin/tasks/${created.id}/members`, { institutionId });
      expect(await peer.runRound(data(2))).toMatchObject({ kind: 'contributed', round: 1 });
      const outcome: RoundOutcome = await c.runRound(data(4));
      expect(outcome).toMatchObject({ kind: 'contributed', round: 1, receipt: { duplicate: false } });
      expect(retries.length).toBeGreaterThan(0);
      expect(retries.every((r, i) => r.delayMs <= Math.min(800, 100 * 2 ** i))).toBe(true);
      await restarted;
      const d = await waitFor(async () => {
        const x = await admin.call<TaskDetail>('GET', `/v1/admin/tasks/${created.id}`);
        return x.task.state === 'completed' ? x : undefined;
      }, 'the restarted server to aggregate');
      expect(d.rounds[0]!.participants).toHaveLength(2);
      expect(d.versions.map((v) => v.version)).toEqual([0, 1]);
    },
  );
});
