/**
 * The real federated server for end-to-end specs: a child process on a loopback port with a fresh
 * data directory, CORS open to the preview server's origin (the console and widget pages are
 * served there), rounds ticking fast; the dashboard and flow specs start it with their own settings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, httpTransport, InstitutionClient } from '../federated-server/src/testing/client.ts';
import { readSafetensors } from '../src/protocol/safetensors.ts';
import type { CreateTaskRequest, FitInstructions } from '../src/protocol/schemas.ts';
import { decodeAdapter } from '../src/protocol/adapter-codec.ts';
import type { SecureRoundView } from '../src/protocol/secure-round.ts';
import { contributeSecurely, type SecureOutcome } from '../src/fl/secure-contribution.ts';
import { TEST_DIMS } from '../src/testing/test-models.ts';

export const E2E_ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';

export interface E2eServer {
  url: string;
  admin: AdminClient;
  stop(): Promise<void>;
}

/**
 * Starts the real server as a child process on a free loopback port with a fresh data directory and
 * the e2e admin token; `env` adds or overrides variables, and a variable set to `undefined` is left
 * out (a spec that proves the start-up defaults must not inherit them).
 */
export async function startE2eServer(
  env: Record<string, string | undefined> = {},
  dirPrefix = 'dure-e2e-fl-',
): Promise<E2eServer> {
  const dataDir = mkdtempSync(join(tmpdir(), dirPrefix));
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    DURE_DATA_DIR: dataDir,
    DURE_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
    DURE_LOG: 'off',
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'federated-server/src/main.ts'], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Dure federated server: (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
  return {
    url,
    admin: new AdminClient(httpTransport(url), E2E_ADMIN_TOKEN),
    async stop() {
      // The server writes its signed audit head on shutdown: remove its folder once it has exited.
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    },
  };
}

/** The server for console and widget specs: CORS open to the preview origin, rounds ticking fast. */
export function startFlServer(corsOrigin: string): Promise<E2eServer> {
  return startE2eServer({ DURE_CORS_ORIGINS: corsOrigin, DURE_TICK_MS: '200' });
}

/**
 * A one-round FedAvg task on the generated test models' shape, LoRA rank 4 on q_proj and v_proj
 * (the shape the widget and console specs train and load); `o` sets what a spec varies. The
 * minimum cohort is the server's floor, 2, unless `o` says otherwise (a task with public adapters
 * needs 5 and `privacy.dp`).
 */
export function testModelTask(
  o: Pick<CreateTaskRequest, 'name' | 'baseModel' | 'localSteps' | 'maxUpdateNorm' | 'publicAdapters'> &
    Partial<Pick<CreateTaskRequest, 'minParticipants' | 'privacy'>> & {
      seed: number;
    },
): CreateTaskRequest {
  const D = TEST_DIMS;
  return {
    name: o.name,
    baseModel: o.baseModel,
    modelShape: {
      numLayers: D.nLayer,
      modules: {
        q_proj: { inFeatures: D.nEmbd, outFeatures: D.nHead * D.headDim },
        v_proj: { inFeatures: D.nEmbd, outFeatures: D.nHeadKv * D.headDim },
      },
    },
    lora: { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], seed: o.seed },
    strategy: { name: 'fedavg' },
    rounds: 1,
    localEpochs: 1,
    localSteps: o.localSteps,
    minParticipants: o.minParticipants ?? 2,
    roundDeadlineSeconds: 600,
    maxUpdateNorm: o.maxUpdateNorm,
    publicAdapters: o.publicAdapters,
    ...(o.privacy ? { privacy: o.privacy } : {}),
  };
}

/** Admits institutions to a task (only members see it, train, upload and download). */
export async function addMembers(server: E2eServer, taskId: string, ids: ReadonlyArray<string>) {
  for (const institutionId of ids)
    await server.admin.call('POST', `/v1/admin/tasks/${taskId}/members`, { institutionId });
}

/** The id of the (only) institution the admin created under `name`. */
export async function institutionIdByName(server: E2eServer, name: string): Promise<string> {
  const all = await server.admin.call<{ id: string; name: string }[]>('GET', '/v1/admin/institutions');
  const found = all.filter((i) => i.name === name);
  if (found.length !== 1) throw new Error(`expected one institution named ${name}, found ${found.length}`);
  return found[0]!.id;
}

/**
 * A peer institution for a spec whose browser is one member of a cohort: enrolled from Node,
 * admitted to the task, it sends round `round`'s global adapter shifted by `shift` (a small, valid
 * update), so the browser's update completes the round's minimum cohort of two.
 */
export async function peerContributes(
  server: E2eServer,
  taskId: string,
  name: string,
  o: { round?: number; shift?: number } = {},
): Promise<InstitutionClient> {
  const round = o.round ?? 1;
  const peer = await InstitutionClient.enroll(httpTransport(server.url), server.admin, name);
  await addMembers(server, taskId, [peer.id]);
  const work = (await peer.request('GET', `/v1/tasks/${taskId}/work`)).json<{
    instructions: { globalVersion: number } | null;
  }>();
  if (!work.instructions) throw new Error(`task ${taskId} has no open round for the peer`);
  const global = await peer.request('GET', `/v1/tasks/${taskId}/adapters/${work.instructions.globalVersion}`);
  const tensors = [...readSafetensors(global.body).tensors.values()].map((t) => ({
    ...t,
    data: t.data.map((v) => v + (o.shift ?? 0.001)),
  }));
  const r = await peer.uploadUpdate(taskId, round, tensors, 4, 1.0);
  if (r.status !== 200) throw new Error(`peer upload → ${r.status} ${new TextDecoder().decode(r.body)}`);
  return peer;
}

/**
 * A peer institution (Node) that joins a secure round: it is admitted, waits for the round's
 * instructions, and runs the SecAgg+ phases with a small shift of the global adapter as its
 * update (clipped to the task's bound). Resolves when its part is done.
 */
export async function securePeer(
  server: E2eServer,
  taskId: string,
  name: string,
): Promise<{ id: string; done: Promise<SecureOutcome> }> {
  const peer = await InstitutionClient.enroll(httpTransport(server.url), server.admin, name);
  await addMembers(server, taskId, [peer.id]);
  const ok = async (method: string, url: string, body?: string | Uint8Array) => {
    const r = await peer.request(method, url, body);
    if (r.status !== 200)
      throw new Error(`${method} ${url} → ${r.status} ${new TextDecoder().decode(r.body)}`);
    return r;
  };
  const done = (async () => {
    const ins = (await ok('GET', `/v1/tasks/${taskId}/work`)).json<{ instructions: FitInstructions | null }>()
      .instructions;
    if (!ins?.secure) throw new Error(`task ${taskId} has no open secure round for the peer`);
    const global = decodeAdapter((await ok('GET', `/v1/tasks/${taskId}/adapters/${ins.globalVersion}`)).body)
      .lora.tensors;
    const tensors = [...global].map(([name, data]) => ({
      name,
      shape: [data.length],
      data: data.map((v) => v + 0.001),
    }));
    let sq = 0;
    for (const t of tensors) sq += t.data.length * 0.001 * 0.001;
    const k = Math.min(1, (ins.maxUpdateNorm * 0.99) / Math.sqrt(sq));
    const clipped = tensors.map((t) => ({
      ...t,
      data: t.data.map((v, i) => global.get(t.name)![i]! + (v - global.get(t.name)![i]!) * k),
    }));
    const base = `/v1/tasks/${taskId}/rounds/${ins.round}/secure`;
    return contributeSecurely({
      fit: ins.secure,
      maxUpdateNorm: ins.maxUpdateNorm,
      tensors: ins.trainA ? clipped : clipped.filter((t) => t.name.includes('lora_B')),
      global,
      pollMs: 200,
      transport: {
        view: async () => (await ok('GET', base)).json<SecureRoundView>(),
        post: async (phase, body) => void (await ok('POST', `${base}/${phase}`, JSON.stringify(body))),
        postMasked: async (bytes) => void (await ok('POST', `${base}/masked`, bytes)),
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      },
    });
  })();
  return { id: peer.id, done };
}
