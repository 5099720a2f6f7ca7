/** Test servers on temp data directories, with a known admin token and signed clients. */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { buildServer, type DureServer, type ServerOptions } from '../app.ts';
import { PUBLIC_MIN_COHORT, type CreateTaskRequest } from '../../../src/protocol/schemas.ts';
import { AdminClient, InstitutionClient, makeReply, type Transport } from './client.ts';
import { freshPgliteDir, tempDir } from './databases.ts';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
export const TEST_METRICS_TOKEN = 'test-metrics-token-0123456789abcdef';

export interface TestServer {
  server: DureServer;
  send: Transport;
  admin: AdminClient;
  dataDir: string;
  enroll(name: string): Promise<InstitutionClient>;
  /** Admits institutions to a task (optionally with a weight cap). */
  addMembers(taskId: string, members: ReadonlyArray<{ id: string }>, maxWeight?: number): Promise<void>;
  cleanup(): Promise<void>;
}

/** A data directory whose pglite/ is a copy of the cached, migrated template (fast). */
export async function freshDataDir(): Promise<string> {
  const dataDir = tempDir('dure-server-');
  const pg = await freshPgliteDir({ migrated: true });
  mkdirSync(dataDir, { recursive: true });
  renameSync(pg, join(dataDir, 'pglite'));
  return dataDir;
}

/**
 * Builds a server with the round timer off (tests drive `coordinator.tick`) and budgets high
 * enough that only the abuse tests, which set `options`, meet a limit.
 */
export async function startTestServer(
  opts: {
    databaseUrl?: string;
    adminToken?: string | null;
    options?: Partial<ServerOptions>;
    /** A data directory the test prepared (e.g. with blobs/ on a small tmpfs); fresh by default. */
    dataDir?: string;
  } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await freshDataDir());
  const server = await buildServer({
    dataDir,
    databaseUrl: opts.databaseUrl,
    adminToken: opts.adminToken === null ? undefined : (opts.adminToken ?? TEST_ADMIN_TOKEN),
    tickMs: 0,
    rateLimitPerMinute: 100_000,
    authFailureLimit: 100_000,
    metricsToken: TEST_METRICS_TOKEN,
    ...opts.options,
  });
  const send = injectTransport(server);
  const admin = new AdminClient(send, TEST_ADMIN_TOKEN);
  return {
    server,
    send,
    admin,
    dataDir,
    enroll: (name) => InstitutionClient.enroll(send, admin, name),
    addMembers: (taskId, members, maxWeight) => addMembers(admin, taskId, members, maxWeight),
    async cleanup() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Requests through Fastify's `inject` (no socket). */
export function injectTransport(server: DureServer): Transport {
  return async (method, url, headers, body) => {
    const r = await server.app.inject({
      method: method as InjectOptions['method'],
      url,
      headers,
      ...(body !== undefined
        ? {
            payload:
              typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
          }
        : {}),
    });
    return makeReply(r.statusCode, new Uint8Array(r.rawPayload), r.headers as Record<string, string>);
  };
}

/** Admits institutions to a task through the admin API. */
export async function addMembers(
  admin: AdminClient,
  taskId: string,
  members: ReadonlyArray<{ id: string }>,
  maxWeight?: number,
): Promise<void> {
  for (const m of members)
    await admin.call('POST', `/v1/admin/tasks/${taskId}/members`, {
      institutionId: m.id,
      ...(maxWeight !== undefined ? { maxWeight } : {}),
    });
}

/** A tiny task: 1 layer, q_proj 4→4, rank 2 (16 + 8… values), FedAvg unless overridden. */
export function tinyTask(overrides: Partial<CreateTaskRequest> = {}): CreateTaskRequest {
  return {
    name: '민원 상담 어댑터',
    baseModel: { id: 'tiny-test', sha256: 'a'.repeat(64) },
    modelShape: {
      numLayers: 1,
      modules: { q_proj: { inFeatures: 4, outFeatures: 4 }, v_proj: { inFeatures: 4, outFeatures: 2 } },
    },
    lora: { rank: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'], seed: 42 },
    strategy: { name: 'fedavg' },
    rounds: 2,
    localEpochs: 1,
    localSteps: 10,
    minParticipants: 2,
    roundDeadlineSeconds: 3600,
    maxUpdateNorm: 100,
    publicAdapters: false,
    ...overrides,
  };
}

/**
 * A tiny task that publishes its adapters to citizens: the smallest cohort such a task may have
 * (k = 5) and differential privacy, which the server allows only under secure aggregation
 * (issue #15). Institutions take part with `runSecureRound` (testing/secure-round.ts); the
 * update bound is small so the DP noise keeps its headroom in the fixed-point range, and phases
 * are short so a test's rounds finish quickly.
 */
export function publicTinyTask(overrides: Partial<CreateTaskRequest> = {}): CreateTaskRequest {
  return tinyTask({
    publicAdapters: true,
    minParticipants: PUBLIC_MIN_COHORT,
    maxUpdateNorm: 1,
    privacy: PUBLIC_PRIVACY,
    ...overrides,
  });
}

/** The privacy settings a public task's tests use: secure aggregation with DP (ε = 8, δ = 1e-5). */
export const PUBLIC_PRIVACY = {
  secureAggregation: true,
  dp: { epsilon: 8, delta: 1e-5 },
  phaseSeconds: 2,
} satisfies CreateTaskRequest['privacy'];
