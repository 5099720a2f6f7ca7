/**
 * The real federated server listening on loopback for the round client's tests and the federation
 * demo: real HTTP, so the client's own `fetch`, signing, retries and streaming are exercised.
 * PGlite starts from the server tests' cached, migrated template (freshDataDir).
 */
import { rmSync } from 'node:fs';
import { buildServer, type DureServer } from '../../federated-server/src/app.ts';
import { AdminClient, httpTransport } from '../../federated-server/src/testing/client.ts';
import { freshDataDir, TEST_ADMIN_TOKEN } from '../../federated-server/src/testing/harness.ts';
import type { CreateTaskRequest, Task } from '../protocol/schemas.ts';

export interface ListeningServer {
  url: string;
  server: DureServer;
  admin: AdminClient;
  dataDir: string;
  /** A new institution's one-time enrollment code. */
  enrollmentCode(name: string): Promise<string>;
  /** Creates a task, admits `members` (institution ids; issue #15 membership) and starts it. */
  startTask(spec: CreateTaskRequest, members?: ReadonlyArray<string>): Promise<Task>;
  /**
   * Admits institutions to a task (only members see, train, upload and download); `maxWeight` caps
   * each one's aggregation weight at min(reported examples, cap) instead of equal weights.
   */
  addMembers(taskId: string, members: ReadonlyArray<string>, opts?: { maxWeight?: number }): Promise<void>;
  /** Stops listening; with `keepData` the data directory stays for a restart. */
  close(opts?: { keepData?: boolean }): Promise<void>;
}

/** Starts the server on an ephemeral loopback port (or `port`), round timer every `tickMs`. */
export async function listenServer(
  opts: { tickMs?: number; dataDir?: string; port?: number } = {},
): Promise<ListeningServer> {
  const dataDir = opts.dataDir ?? (await freshDataDir());
  const server = await buildServer({
    dataDir,
    adminToken: TEST_ADMIN_TOKEN,
    tickMs: opts.tickMs ?? 50,
    rateLimitPerMinute: 1_000_000,
  });
  await server.app.listen({ port: opts.port ?? 0, host: '127.0.0.1' });
  const addr = server.app.server.address();
  const url = `http://127.0.0.1:${addr && typeof addr === 'object' ? addr.port : 0}`;
  const admin = new AdminClient(httpTransport(url), TEST_ADMIN_TOKEN);
  const addMembers = async (
    taskId: string,
    members: ReadonlyArray<string>,
    o: { maxWeight?: number } = {},
  ) => {
    for (const institutionId of members)
      await admin.call('POST', `/v1/admin/tasks/${taskId}/members`, { institutionId, ...o });
  };
  return {
    url,
    server,
    admin,
    dataDir,
    async enrollmentCode(name) {
      return (await admin.call<{ enrollmentCode: string }>('POST', '/v1/admin/institutions', { name }))
        .enrollmentCode;
    },
    async startTask(spec, members = []) {
      const task = await admin.call<Task>('POST', '/v1/admin/tasks', spec);
      await addMembers(task.id, members);
      return admin.call<Task>('POST', `/v1/admin/tasks/${task.id}/start`);
    },
    addMembers,
    async close(o = {}) {
      await server.close();
      if (!o.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
