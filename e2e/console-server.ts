/**
 * The real federated server for end-to-end specs: a child process on a loopback port with a fresh
 * data directory, CORS open to the preview server's origin (the console and widget pages are
 * served there), rounds ticking fast. As e2e/admin-dashboard.spec.ts starts it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, httpTransport, InstitutionClient } from '../federated-server/src/testing/client.ts';
import { readSafetensors } from '../src/protocol/safetensors.ts';
import type { CreateTaskRequest } from '../src/protocol/schemas.ts';
import { TEST_DIMS } from '../src/testing/test-models.ts';

export const E2E_ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';

export interface E2eServer {
  url: string;
  admin: AdminClient;
  stop(): void;
}

export async function startFlServer(corsOrigin: string): Promise<E2eServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dure-e2e-fl-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'federated-server/src/main.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      DURE_DATA_DIR: dataDir,
      DURE_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
      DURE_LOG: 'off',
      DURE_CORS_ORIGINS: corsOrigin,
      DURE_TICK_MS: '200',
    },
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
    stop() {
      child.kill('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
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
