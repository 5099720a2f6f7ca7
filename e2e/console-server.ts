/**
 * The real federated server for end-to-end specs: a child process on a loopback port with a fresh
 * data directory, CORS open to the preview server's origin (the console and widget pages are
 * served there), rounds ticking fast. As e2e/admin-dashboard.spec.ts starts it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, httpTransport } from '../federated-server/src/testing/client.ts';
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
 * (the shape the widget and console specs train and load); `o` sets what a spec varies.
 */
export function testModelTask(
  o: Pick<CreateTaskRequest, 'name' | 'baseModel' | 'localSteps' | 'maxUpdateNorm' | 'publicAdapters'> & {
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
    minParticipants: 1,
    roundDeadlineSeconds: 600,
    maxUpdateNorm: o.maxUpdateNorm,
    publicAdapters: o.publicAdapters,
  };
}
