/**
 * A task that failed (three rounds in a row without quorum) used to stay failed for good. An
 * admin can now resume it: audited, admins only, refused unless the task failed, and the task
 * runs on from its latest global adapter to completion.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/protocol/safetensors.ts';
import { adapterTensorSpecs } from '../../src/protocol/lora.ts';
import type { RoundDetail, Task } from '../../src/protocol/schemas.ts';
import { MAX_CONSECUTIVE_FAILURES } from './coordinator.ts';
import { startTestServer, tinyTask, TEST_ADMIN_TOKEN, type TestServer } from './testing/harness.ts';

describe('resuming a failed task', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const detail = (id: string) =>
    t.admin.call<{ task: Task; rounds: RoundDetail[] }>('GET', `/v1/admin/tasks/${id}`);

  it('moves the task back to running, audited, and it completes', async () => {
    const task = await t.admin.call<Task>('POST', '/v1/admin/tasks', tinyTask({ rounds: 1 }));
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    const [a, b] = [await t.enroll('A 병원'), await t.enroll('B 구청')];
    await t.addMembers(task.id, [a, b]);

    // Only resumable once failed.
    const early = await t.send('POST', `/v1/admin/tasks/${task.id}/resume`, {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
    });
    expect([early.status, early.json<{ error: { code: string } }>().error.code]).toEqual([
      409,
      'TASK_NOT_RESUMABLE',
    ]);

    // Deadlines pass without quorum until the task fails.
    let when = Date.now();
    for (let i = 0; i < MAX_CONSECUTIVE_FAILURES; i++) {
      when += 3601 * 1000;
      await t.server.coordinator.tick(when);
    }
    const failed = await detail(task.id);
    expect(failed.task.state).toBe('failed');
    expect(failed.rounds.map((r) => r.state)).toEqual(['failed', 'failed', 'failed']);

    // Not for institutions, nor without a token.
    expect((await a.request('POST', `/v1/admin/tasks/${task.id}/resume`)).status).toBe(401);
    expect((await t.send('POST', `/v1/admin/tasks/${task.id}/resume`, {})).status).toBe(401);

    const resumed = await t.admin.call<Task>('POST', `/v1/admin/tasks/${task.id}/resume`);
    expect(resumed.state).toBe('running');
    const after = await detail(task.id);
    expect(after.rounds.map((r) => r.state)).toEqual(['failed', 'failed', 'failed', 'open']);
    const audit = await t.admin.call<{ type: string; actor: string; data: Record<string, unknown> }[]>(
      'GET',
      '/v1/admin/audit?limit=1000',
    );
    const entry = audit.find((e) => e.type === 'task.resumed');
    expect(entry).toMatchObject({ actor: 'admin:bootstrap', data: { taskId: task.id, round: 4 } });

    // Round 4 runs from the latest global adapter and the task completes.
    const r4 = (await a.request('GET', `/v1/tasks/${task.id}/adapters/latest`)).body;
    const { tensors } = readSafetensors(r4);
    const update = adapterTensorSpecs(task.modelShape, task.lora).map((s) => ({
      ...tensors.get(s.name)!,
      data: tensors.get(s.name)!.data.map((v) => v + 0.5),
    }));
    expect((await a.uploadUpdate(task.id, 4, update, 10)).status).toBe(200);
    expect((await b.uploadUpdate(task.id, 4, update, 10)).status).toBe(200);
    await t.server.coordinator.tick(); // everyone is in
    const done = await detail(task.id);
    expect(done.task.state).toBe('completed');
    expect(done.rounds.at(-1)?.state).toBe('closed');

    const again = await t.send('POST', `/v1/admin/tasks/${task.id}/resume`, {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
    });
    expect(again.status).toBe(409);
  });
});
