/**
 * Load benchmark of the federated server; not part of `npm test`.
 *
 *   npx tsx bench/server-load.ts [--institutions 100] [--rounds 1] [--replicas 1] [--postgres]
 *       [--kill-leader] [--shape qwen2.5-1.5b|qwen2.5-0.5b] [--layers L] [--rank 16]
 *       [--concurrency 8] [--max-seconds 900]
 *
 * Starts R real server processes (one on PGlite, or R on one throw-away PostgreSQL with a shared
 * data directory, as federated-server/src/replicas.test.ts does) and N institutions in this
 * process. Every institution enrols through the admin API and, each round, uploads one signed
 * plaintext FedAvg update in the wire format the round client sends (safetensors F32, rank-`rank`
 * LoRA on q/k/v/o of the chosen real model shape) through a random replica. With --kill-leader
 * the leader is SIGKILLed once half of round 1's uploads are acknowledged and a replacement
 * process is started on the same database and directory; uploads whose answer was lost are sent
 * again, as the round client does.
 *
 * Measured: round latency (server's opened → closed), aggregation time (the leader's own
 * figure), accepted updates/s, and per replica the peak RSS (/proc VmHWM) and peak open
 * descriptors (/proc/<pid>/fd), sampled every 100 ms. Checked: the new global adapter equals the
 * parent plus the weighted mean of the shifts (every coordinate), every acknowledged update is in
 * the round's aggregate once, and no request got a 5xx. Writes bench/results/server-load.json.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { readSafetensors } from '../src/protocol/safetensors.ts';
import { adapterTensorSpecs, parameterCount } from '../src/protocol/lora.ts';
import type { CreateTaskRequest, Task, UpdateReceipt, WorkResponse } from '../src/protocol/schemas.ts';
import {
  AdminClient,
  httpTransport,
  InstitutionClient,
  type Transport,
} from '../federated-server/src/testing/client.ts';
import { TEST_ADMIN_TOKEN } from '../federated-server/src/testing/harness.ts';
import { startPostgres, tempDir, type PostgresInstance } from '../federated-server/src/testing/databases.ts';
import { goLive, spawnStandby, type Standby } from '../federated-server/src/testing/server-process.ts';
import { createDatabase, leaderPid } from '../federated-server/src/testing/replica-set.ts';
import { MODEL_SHAPES, parseServerLoadArgs } from './server-load-args.ts';

const args = parseServerLoadArgs(process.argv.slice(2));
const N = args.institutions;
const root = resolve(import.meta.dirname, '..');
const started = performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => console.error(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${s}`);

// ── storage and server processes ──
let pgServer: PostgresInstance | undefined;
let databaseUrl: string | undefined;
let operator: pg.Client | undefined;
let postgresVersion: string | null = null;
if (args.postgres) {
  pgServer = await startPostgres();
  databaseUrl = await createDatabase(pgServer.url, 'bench_load');
  operator = new pg.Client({ connectionString: databaseUrl });
  await operator.connect();
  postgresVersion = (await operator.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
    .rows[0]!.v;
}
const dataDir = tempDir('dure-bench-');
const serverEnv = {
  DURE_TICK_MS: '100',
  DURE_RATE_LIMIT: '100000000',
  ...(databaseUrl ? { DATABASE_URL: databaseUrl, DURE_LEADER_RETRY_MS: '150' } : {}),
};

interface Replica {
  pid: number;
  child: ChildProcess;
  url: string;
  origin: 'initial' | 'restart';
  killed: boolean;
  baselineRssBytes: number;
  baselineFds: number;
  peakRssBytes: number;
  peakFds: number;
}
const replicas: Replica[] = [];
const standbys: Standby[] = [];
const liveReplicas = () => replicas.filter((r) => !r.killed);

function procStatus(pid: number): { hwm: number; rss: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return null; // exited between the check and the read
  }
}
function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}
function sample(): void {
  for (const r of liveReplicas()) {
    const s = procStatus(r.pid);
    if (s) r.peakRssBytes = Math.max(r.peakRssBytes, s.hwm);
    const fds = openFds(r.pid);
    if (!Number.isNaN(fds)) r.peakFds = Math.max(r.peakFds, fds);
  }
}
const sampler = setInterval(sample, 100);

const spawnOne = () => {
  const s = spawnStandby(dataDir, serverEnv);
  standbys.push(s);
  return s;
};
async function promote(s: Standby, origin: Replica['origin']): Promise<Replica> {
  const url = await goLive(s);
  standbys.splice(standbys.indexOf(s), 1);
  const pid = s.child.pid!;
  const st = procStatus(pid);
  const r: Replica = {
    pid,
    child: s.child,
    url,
    origin,
    killed: false,
    baselineRssBytes: st?.rss ?? NaN,
    baselineFds: openFds(pid),
    peakRssBytes: st?.hwm ?? 0,
    peakFds: 0,
  };
  replicas.push(r);
  return r;
}

let cleaned = false;
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  clearInterval(sampler);
  for (const r of replicas) r.child.kill('SIGKILL');
  for (const s of standbys) s.child.kill('SIGKILL');
  void operator?.end().catch(() => undefined);
  pgServer?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.on('exit', cleanup);
const deadline = setTimeout(() => {
  console.error(`server-load: over --max-seconds ${args.maxSeconds}`);
  process.exit(2);
}, args.maxSeconds * 1000);
deadline.unref();

const initial = Array.from({ length: args.replicas }, spawnOne);
let spare = args.killLeader ? spawnOne() : undefined; // loads its code while the others run
await Promise.all(initial.map((s) => promote(s, 'initial')));
log(`${args.replicas} server(s) on ${args.postgres ? `PostgreSQL ${postgresVersion}` : 'PGlite'}`);

// ── clients: every request to a random live replica; a refused connection throws ──
const serverErrors: string[] = [];
let refused = 0;
const send: Transport = async (m, u, h, b) => {
  const live = liveReplicas();
  const r = await httpTransport(live[Math.floor(Math.random() * live.length)]!.url)(m, u, h, b);
  if (r.status >= 500) serverErrors.push(`${m} ${u} → ${r.status} ${new TextDecoder().decode(r.body)}`);
  return r;
};
/** Retries what failed to connect (a killed replica); the next try picks another. */
async function retry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt > 100) throw err;
      refused++;
      await sleep(50);
    }
  }
}
/** Runs `fn` over 0…n-1, `limit` at a time. */
async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

const admin = new AdminClient(send, TEST_ADMIN_TOKEN);
const shape = MODEL_SHAPES[args.shape];
const spec: CreateTaskRequest = {
  name: `load benchmark (${shape.model} shape)`,
  baseModel: { id: shape.model, sha256: '0'.repeat(64) },
  modelShape: {
    numLayers: args.layers,
    modules: {
      q_proj: { inFeatures: shape.hidden, outFeatures: shape.hidden },
      k_proj: { inFeatures: shape.hidden, outFeatures: shape.kv },
      v_proj: { inFeatures: shape.hidden, outFeatures: shape.kv },
      o_proj: { inFeatures: shape.hidden, outFeatures: shape.hidden },
    },
  },
  lora: { rank: args.rank, alpha: 32, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], seed: 7 },
  strategy: { name: 'fedavg' },
  rounds: args.rounds,
  localEpochs: 1,
  localSteps: 100,
  minParticipants: N,
  roundDeadlineSeconds: args.maxSeconds,
  maxUpdateNorm: 1e6,
  publicAdapters: false,
};
const specs = adapterTensorSpecs(spec.modelShape, spec.lora);
const params = parameterCount(specs);

const tEnrol = performance.now();
const insts: InstitutionClient[] = new Array<InstitutionClient>(N);
await pool(N, args.concurrency, async (i) => {
  insts[i] = await retry(() => InstitutionClient.enroll(send, admin, `기관 ${i}`));
});
const task = await retry(() => admin.call<Task>('POST', '/v1/admin/tasks', spec));
// Members with a cap far above any count: each weight is then the reported example count.
await pool(N, args.concurrency, (i) =>
  retry(() =>
    admin.call('POST', `/v1/admin/tasks/${task.id}/members`, { institutionId: insts[i]!.id, maxWeight: 1e6 }),
  ).then(() => undefined),
);
const enrolSeconds = (performance.now() - tEnrol) / 1000;
log(`${N} institutions enrolled and admitted in ${enrolSeconds.toFixed(1)} s`);
await retry(() => admin.call('POST', `/v1/admin/tasks/${task.id}/start`));

/** Institution i's example count, its server-side weight here (capped at 1e6). */
const examples = (i: number) => 1 + (i % 50);
/** Institution i's shift of coordinate c: a per-institution scale × a per-coordinate pattern. */
const scale = (i: number, round: number) => 1e-4 * (1 + ((i + round) % 97));
const pattern = (c: number) => (c % 13) - 6;

interface RoundDetail {
  number: number;
  state: string;
  globalVersion: number;
  openedAt: number;
  closedAt: number | null;
  metrics: Record<string, number> | null;
}
async function roundDetail(round: number): Promise<RoundDetail | undefined> {
  const d = await retry(() => admin.call<{ rounds: RoundDetail[] }>('GET', `/v1/admin/tasks/${task.id}`));
  return d.rounds.find((r) => r.number === round);
}

/** The audit's round.closed entry of `round` (participants and update ids). */
async function closedEntry(round: number): Promise<{ participants: string[]; updateIds: number[] }> {
  let after = 0;
  for (;;) {
    const page = await retry(() =>
      admin.call<Array<{ seq: number; type: string; data: unknown }>>(
        'GET',
        `/v1/admin/audit?after=${after}&limit=1000`,
      ),
    );
    for (const e of page) {
      const data = (typeof e.data === 'string' ? JSON.parse(e.data) : e.data) as {
        taskId: string;
        round: number;
        participants: string[];
        updateIds: number[];
      };
      if (e.type === 'round.closed' && data.taskId === task.id && data.round === round) return data;
    }
    if (page.length === 0) throw new Error(`no round.closed entry for round ${round}`);
    after = page[page.length - 1]!.seq;
  }
}

interface KillRecord {
  round: number;
  pid: number;
  acknowledgedBefore: number;
  newLeaderSeconds: number;
  replacementUpSeconds: number;
}
const kills: KillRecord[] = [];

/** SIGKILLs the leader once `acks()` reaches half the cohort, then starts a replacement. */
async function killLeaderMidRound(round: number, acks: () => number, over: () => boolean): Promise<void> {
  while (acks() < N / 2 && !over()) await sleep(10);
  if (over()) return;
  let pid: number | undefined;
  while (!(pid = await leaderPid(operator!)) || !liveReplicas().some((r) => r.pid === pid)) await sleep(20);
  const victim = replicas.find((r) => r.pid === pid)!;
  const acknowledgedBefore = acks();
  sample();
  victim.killed = true;
  const exited = new Promise((r) => victim.child.once('exit', r));
  const t = performance.now();
  victim.child.kill('SIGKILL');
  await exited;
  log(`round ${round}: SIGKILLed the leader (pid ${pid}) after ${acknowledgedBefore} acknowledged uploads`);
  const replacing = promote(spare!, 'restart').then(() => (performance.now() - t) / 1000);
  spare = undefined;
  let next: number | undefined;
  while (!(next = await leaderPid(operator!)) || next === pid) await sleep(20);
  const newLeaderSeconds = (performance.now() - t) / 1000;
  kills.push({ round, pid, acknowledgedBefore, newLeaderSeconds, replacementUpSeconds: await replacing });
}

interface RoundResult {
  round: number;
  latencySeconds: number;
  uploadSeconds: number;
  aggregationSeconds: number;
  closeAfterLastUploadSeconds: number;
  updatesPerSecond: number;
  uploadMBps: number;
  acknowledged: number;
  resent: number;
  maxAbsError: number;
}
const results: RoundResult[] = [];

for (let round = 1; round <= args.rounds; round++) {
  // The round's global adapter, downloaded once by the bench: each update is it plus a shift.
  let ins: WorkResponse['instructions'] = null;
  while (
    !(ins = (await retry(() => insts[0]!.request('GET', `/v1/tasks/${task.id}/work`))).json<WorkResponse>()
      .instructions) ||
    ins.round !== round
  )
    await sleep(50);
  const globalVersion = ins.globalVersion;
  const g = await retry(() => insts[0]!.request('GET', `/v1/tasks/${task.id}/adapters/${globalVersion}`));
  const parent = readSafetensors(g.body).tensors;

  const acknowledged = new Map<string, number>(); // institution id → update id
  let resent = 0;
  let firstAck = Infinity;
  let lastAck = 0;
  let uploadsDone = false;
  const killing =
    args.killLeader && round === 1
      ? killLeaderMidRound(
          round,
          () => acknowledged.size,
          () => uploadsDone,
        )
      : Promise.resolve();
  const tRound = performance.now();
  await pool(N, args.concurrency, async (i) => {
    const inst = insts[i]!;
    const k = scale(i, round);
    const update = specs.map((s) => {
      const p = parent.get(s.name)!;
      const data = new Float32Array(p.data.length);
      for (let c = 0; c < data.length; c++) data[c] = p.data[c]! + k * pattern(c);
      return { name: s.name, shape: s.shape, data };
    });
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) resent++;
      let r;
      try {
        r = await inst.uploadUpdate(task.id, round, update, examples(i));
      } catch {
        refused++;
        await sleep(50); // the replica died before answering: the same bytes again, elsewhere
        continue;
      }
      if (r.status === 200) {
        const now = performance.now();
        firstAck = Math.min(firstAck, now);
        lastAck = now;
        acknowledged.set(inst.id, r.json<UpdateReceipt>().updateId);
        return;
      }
      if (r.status >= 500 && attempt < 100) {
        await sleep(50);
        continue;
      }
      throw new Error(`institution ${i} upload → ${r.status} ${new TextDecoder().decode(r.body)}`);
    }
  });
  uploadsDone = true;
  await killing;
  log(
    `round ${round}: ${acknowledged.size} uploads acknowledged in ${((lastAck - firstAck) / 1000).toFixed(1)} s`,
  );

  let detail: RoundDetail | undefined;
  for (;;) {
    detail = await roundDetail(round);
    if (detail?.state === 'closed') break;
    if (detail?.state === 'failed') throw new Error(`round ${round} failed`);
    await sleep(100);
  }
  const closedSeen = performance.now();
  sample();

  // ── correctness: every acknowledged update once, and the adapter is the weighted mean ──
  const closed = await closedEntry(round);
  if (new Set(closed.updateIds).size !== closed.updateIds.length)
    throw new Error('an update aggregated twice');
  if (new Set(closed.participants).size !== closed.participants.length)
    throw new Error('an institution aggregated twice');
  for (const [id, updateId] of acknowledged)
    if (!closed.updateIds.includes(updateId)) throw new Error(`acknowledged update of ${id} not aggregated`);
  if (closed.participants.length !== N) throw new Error(`${closed.participants.length} of ${N} aggregated`);
  const index = new Map(insts.map((x, i) => [x.id, i]));
  let wSum = 0;
  let kSum = 0;
  for (const id of closed.participants) {
    const i = index.get(id)!;
    wSum += examples(i);
    kSum += examples(i) * scale(i, round);
  }
  const meanScale = kSum / wSum;
  const got = readSafetensors(
    (await retry(() => admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/${globalVersion + 1}`))).body,
  ).tensors;
  let maxAbsError = 0;
  for (const s of specs) {
    const p = parent.get(s.name)!.data;
    const x = got.get(s.name)!.data;
    for (let c = 0; c < p.length; c++)
      maxAbsError = Math.max(maxAbsError, Math.abs(x[c]! - (p[c]! + meanScale * pattern(c))));
  }
  if (!(maxAbsError < 1e-5)) throw new Error(`aggregate off by ${maxAbsError}`);

  const uploadSeconds = (lastAck - firstAck) / 1000;
  const mb = (N * params * 4) / 1e6;
  results.push({
    round,
    latencySeconds: (detail.closedAt! - detail.openedAt) / 1000,
    uploadSeconds,
    aggregationSeconds: detail.metrics?.['aggregationSeconds'] ?? NaN,
    closeAfterLastUploadSeconds: (closedSeen - Math.max(lastAck, tRound)) / 1000,
    updatesPerSecond: acknowledged.size / uploadSeconds,
    uploadMBps: mb / uploadSeconds,
    acknowledged: acknowledged.size,
    resent,
    maxAbsError,
  });
  log(
    `round ${round} closed: aggregation ${results.at(-1)!.aggregationSeconds.toFixed(2)} s, max error ${maxAbsError.toExponential(1)}`,
  );
}
if (serverErrors.length > 0) throw new Error(`5xx answers:\n${serverErrors.slice(0, 5).join('\n')}`);

sample();
const leaderAtEnd = operator ? await leaderPid(operator) : replicas[0]!.pid;
const MB = 1e6;
const report = {
  benchmark: 'federated-server-load',
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, loadAverage1m: loadavg()[0] },
  clients: N, // the older name, read by bench/run.ts
  institutions: N,
  storage: args.postgres ? 'postgresql' : 'pglite',
  postgresVersion,
  upload:
    'plaintext FedAvg (no secure aggregation, no DP noise): signed safetensors F32, one per institution per round',
  shape: {
    model: shape.model,
    layers: args.layers,
    modelLayers: shape.layers,
    hidden: shape.hidden,
    kvWidth: shape.kv,
    rank: args.rank,
    targets: spec.lora.targetModules,
    parameters: params,
    adapterMB: (params * 4) / MB,
  },
  enrolSeconds,
  rounds: results,
  killLeader: args.killLeader ? kills : null,
  refusedConnections: refused,
  replicas: replicas.map((r) => ({
    pid: r.pid,
    origin: r.origin,
    role: r.killed ? 'killed leader' : r.pid === leaderAtEnd ? 'leader at end' : 'follower',
    baselineRssMB: r.baselineRssBytes / MB,
    peakRssMB: r.peakRssBytes / MB,
    baselineFds: r.baselineFds,
    peakFds: r.peakFds,
  })),
  serverPeakRssMB: Math.max(...replicas.map((r) => r.peakRssBytes)) / MB,
  totalSeconds: (performance.now() - started) / 1000,
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/server-load.json'), JSON.stringify(report, null, 2));
console.log(JSON.stringify(report));
console.error(
  `${N} institutions × ${report.shape.adapterMB.toFixed(2)} MB (${args.layers}/${shape.layers} layers of ${shape.model}, rank ${args.rank}) through ${args.replicas} replica(s)`,
);
console.table(
  results.map((r) => ({
    round: r.round,
    'latency s': r.latencySeconds.toFixed(1),
    'upload window s': r.uploadSeconds.toFixed(1),
    'aggregation s': r.aggregationSeconds.toFixed(2),
    'updates/s': r.updatesPerSecond.toFixed(1),
    'max |error|': r.maxAbsError.toExponential(1),
  })),
);
console.table(
  report.replicas.map((r) => ({
    pid: r.pid,
    role: r.role,
    'RSS at start MB': r.baselineRssMB.toFixed(0),
    'peak RSS MB': r.peakRssMB.toFixed(0),
    'fds at start': r.baselineFds,
    'peak fds': r.peakFds,
  })),
);
for (const k of kills)
  console.error(
    `leader SIGKILLed in round ${k.round} after ${k.acknowledgedBefore} acknowledged uploads: new leader in ${k.newLeaderSeconds.toFixed(2)} s, replacement listening in ${k.replacementUpSeconds.toFixed(2)} s`,
  );
cleanup();
process.exit(0);
