/**
 * Load benchmark of the federated server (can it serve 100 institutions?); not part of `npm test`.
 *
 *   npx tsx bench/server-load.ts [--clients 100] [--rounds 2] [--layers 28] [--rank 16] [--max-seconds 600]
 *
 * Runs the real server as a child process on a loopback port (fresh data directory, PGlite) and
 * N simulated institutions in this process. Each round every client polls for work, downloads
 * the global adapter, uploads a signed update (Qwen2.5-1.5B shape by default: 28 layers, hidden
 * 1536, k/v 256, q/k/v/o targets, rank 16 → 4.36 M parameters, 17.4 MB), and the server
 * aggregates with FedAvg once everyone is in. Reports round latency, upload throughput and the
 * server's peak RSS (VmHWM) as JSON (bench/results/server-load.json) and a table.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readSafetensors } from '../src/protocol/safetensors.ts';
import { adapterTensorSpecs, parameterCount } from '../src/protocol/lora.ts';
import type { CreateTaskRequest, Task, WorkResponse } from '../src/protocol/schemas.ts';
import { AdminClient, httpTransport, InstitutionClient } from '../federated-server/src/testing/client.ts';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
    layers: { type: 'string', default: '28' },
    rank: { type: 'string', default: '16' },
    'max-seconds': { type: 'string', default: '600' },
  },
});
const CLIENTS = Number(args.clients);
// A round aggregates at least two updates (the server refuses a smaller minimum cohort).
if (!Number.isInteger(CLIENTS) || CLIENTS < 2) throw new Error('--clients must be a whole number ≥ 2');
const ROUNDS = Number(args.rounds);
const MAX_MS = Number(args['max-seconds']) * 1000;
const TOKEN = 'bench-admin-token-0123456789abcdef';
const root = resolve(import.meta.dirname, '..');
const started = Date.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const overTime = () => Date.now() - started > MAX_MS;

const dataDir = mkdtempSync(join(tmpdir(), 'dure-bench-'));
const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'federated-server/src/main.ts')], {
  cwd: root,
  env: {
    ...process.env,
    PORT: '0',
    DURE_DATA_DIR: dataDir,
    DURE_ADMIN_TOKEN: TOKEN,
    DURE_LOG: 'off',
    DURE_RATE_LIMIT: '10000000',
    DURE_TICK_MS: '100',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const cleanup = () => {
  child.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
};
process.on('exit', cleanup);

function peakRssBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const base = await new Promise<string>((res, rej) => {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /Dure federated server: (http:\/\/\S+)/.exec(out);
    if (m) res(m[1]!);
  });
  child.on('exit', (code) => rej(new Error(`server exited (${code})`)));
});
const send = httpTransport(base);
const admin = new AdminClient(send, TOKEN);

const hidden = 1536;
const spec: CreateTaskRequest = {
  name: 'load benchmark (Qwen2.5-1.5B shape)',
  baseModel: { id: 'Qwen/Qwen2.5-1.5B-Instruct', sha256: '0'.repeat(64) },
  modelShape: {
    numLayers: Number(args.layers),
    modules: {
      q_proj: { inFeatures: hidden, outFeatures: hidden },
      k_proj: { inFeatures: hidden, outFeatures: 256 },
      v_proj: { inFeatures: hidden, outFeatures: 256 },
      o_proj: { inFeatures: hidden, outFeatures: hidden },
    },
  },
  lora: {
    rank: Number(args.rank),
    alpha: 32,
    targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
    seed: 7,
  },
  strategy: { name: 'fedavg' },
  rounds: ROUNDS,
  localEpochs: 1,
  localSteps: 100,
  minParticipants: CLIENTS,
  roundDeadlineSeconds: MAX_MS / 1000,
  maxUpdateNorm: 1e6,
  publicAdapters: false,
};
const specs = adapterTensorSpecs(spec.modelShape, spec.lora);
const params = parameterCount(specs);

console.log(`server ${base}; enrolling ${CLIENTS} institutions…`);
const clients: InstitutionClient[] = [];
for (let i = 0; i < CLIENTS; i++) clients.push(await InstitutionClient.enroll(send, admin, `기관 ${i}`));
const task = await admin.call<Task>('POST', '/v1/admin/tasks', spec);
// Only members see a task, get work and upload (issue #15): admit every client.
for (const c of clients)
  await admin.call('POST', `/v1/admin/tasks/${task.id}/members`, { institutionId: c.id });
await admin.call('POST', `/v1/admin/tasks/${task.id}/start`);

interface RoundResult {
  round: number;
  latencySeconds: number;
  uploadSeconds: number;
  aggregationSeconds: number;
  uploadedMB: number;
  updatesPerSecond: number;
  uploadMBps: number;
}
const results: RoundResult[] = [];

for (let round = 1; round <= ROUNDS && !overTime(); round++) {
  const t0 = performance.now();
  let firstUpload = Infinity;
  let lastUpload = 0;
  await Promise.all(
    clients.map(async (c, i) => {
      for (;;) {
        const work = (await c.request('GET', `/v1/tasks/${task.id}/work`)).json<WorkResponse>();
        if (work.instructions?.round === round && !work.submitted) {
          const g = readSafetensors(
            (await c.request('GET', `/v1/tasks/${task.id}/adapters/${work.instructions.globalVersion}`)).body,
          );
          const tensors = specs.map((s) => {
            const data = g.tensors.get(s.name)!.data;
            for (let k = 0; k < data.length; k += 97) data[k] = data[k]! + 1e-3 * (i + 1); // sparse, distinct change
            return { name: s.name, shape: s.shape, data };
          });
          const t = performance.now();
          firstUpload = Math.min(firstUpload, t);
          const r = await c.uploadUpdate(task.id, round, tensors, 10 + i);
          if (r.status !== 200) throw new Error(`upload → ${r.status} ${new TextDecoder().decode(r.body)}`);
          lastUpload = performance.now();
          return;
        }
        if (overTime()) throw new Error('benchmark exceeded --max-seconds');
        await sleep(50);
      }
    }),
  );
  // wait for the round to close (everyone is in, so no deadline wait)
  let metrics: Record<string, number> | null = null;
  while (!metrics) {
    const d = await admin.call<{
      rounds: { number: number; state: string; metrics: Record<string, number> | null }[];
    }>('GET', `/v1/admin/tasks/${task.id}`);
    const r = d.rounds.find((x) => x.number === round);
    if (r?.state === 'closed') metrics = r.metrics;
    else if (r?.state === 'failed') throw new Error(`round ${round} failed`);
    else await sleep(50);
    if (overTime()) throw new Error('benchmark exceeded --max-seconds');
  }
  const latency = (performance.now() - t0) / 1000;
  const uploadSeconds = (lastUpload - firstUpload) / 1000;
  const mb = (CLIENTS * params * 4) / 1e6;
  results.push({
    round,
    latencySeconds: latency,
    uploadSeconds,
    aggregationSeconds: metrics['aggregationSeconds'] ?? NaN,
    uploadedMB: mb,
    updatesPerSecond: CLIENTS / uploadSeconds,
    uploadMBps: mb / uploadSeconds,
  });
  console.log(`round ${round}: ${latency.toFixed(1)} s`);
}

const report = {
  benchmark: 'federated-server-load',
  date: new Date().toISOString(),
  clients: CLIENTS,
  shape: {
    layers: spec.modelShape.numLayers,
    hidden,
    rank: spec.lora.rank,
    targets: spec.lora.targetModules,
    parameters: params,
    adapterMB: (params * 4) / 1e6,
  },
  storage: 'pglite',
  rounds: results,
  serverPeakRssMB: peakRssBytes() / 1e6,
  totalSeconds: (Date.now() - started) / 1000,
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/server-load.json'), JSON.stringify(report, null, 2));
console.log(JSON.stringify(report));
console.table(
  results.map((r) => ({
    round: r.round,
    'latency s': r.latencySeconds.toFixed(2),
    'upload window s': r.uploadSeconds.toFixed(2),
    'aggregation s': r.aggregationSeconds.toFixed(2),
    'updates/s': r.updatesPerSecond.toFixed(1),
    'upload MB/s': r.uploadMBps.toFixed(0),
  })),
);
console.log(
  `server peak RSS: ${report.serverPeakRssMB.toFixed(0)} MB (adapter ${report.shape.adapterMB.toFixed(1)} MB × ${CLIENTS} clients = ${((report.shape.adapterMB * CLIENTS) / 1000).toFixed(2)} GB uploaded per round)`,
);
cleanup();
process.exit(0);
