/**
 * Crash safety: the real server runs as a child process on an ephemeral
 * loopback port while four institutions submit tiny updates; the test SIGKILLs it at random
 * points at least 20 times, restarts it on the same data directory, and then shows that
 * - no update a client was told was accepted is missing,
 * - no update is counted twice (each global adapter is exactly the example-weighted mean of its
 *   round's distinct participants, with the registry's participant list unique; the institutions
 *   are members whose weight the admin caps above their counts, so min(count, cap) is the count),
 * - rounds complete (every task reaches `completed`), and the audit chain is intact.
 */
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors, type NamedTensor } from '../../src/protocol/safetensors.ts';
import { adapterTensorSpecs } from '../../src/protocol/lora.ts';
import type { Task, UpdateReceipt, WorkResponse } from '../../src/protocol/schemas.ts';
import { AdminClient, httpTransport, InstitutionClient, type Transport } from './testing/client.ts';
import { addMembers, freshDataDir, tinyTask, TEST_ADMIN_TOKEN } from './testing/harness.ts';
import { goLive, spawnStandby as spawnServer, type Standby } from './testing/server-process.ts';

const KILLS = 20;
const CLIENTS = 4;
const ROUNDS_PER_TASK = 2;
/** DURE_DEBUG=1 traces client errors and child exits to /tmp/dure-crash.log. */
const debug = (s: string) => process.env['DURE_DEBUG'] && appendFileSync('/tmp/dure-crash.log', s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running {
  child: ChildProcess;
  url: string;
}

function spawnStandby(dataDir: string): Standby {
  return spawnServer(dataDir, {}, (code, err) => code !== null && debug(`child exit ${code}: ${err}`));
}

/** Promotes the standby to the live server and starts the next standby. */
async function promote(standby: Standby, dataDir: string): Promise<{ running: Running; next: Standby }> {
  const url = await goLive(standby);
  return { running: { child: standby.child, url }, next: spawnStandby(dataDir) };
}

describe('crash safety under repeated SIGKILL', () => {
  const dataDir = freshDataDir();
  let running: Running | undefined;
  let standby: Standby | undefined;
  afterAll(async () => {
    running?.child.kill('SIGKILL');
    standby?.child.kill('SIGKILL');
    rmSync(await dataDir, { recursive: true, force: true });
  });

  it(
    `loses no accepted update, counts none twice, and completes rounds across ${KILLS} kills`,
    { timeout: 600_000 },
    async () => {
      const dir = await dataDir;
      ({ running, next: standby } = await promote(spawnStandby(dir), dir));
      let base = running.url;
      // Every request goes to the current server; connection errors surface as thrown errors.
      const send: Transport = (m, u, h, b) => httpTransport(base)(m, u, h, b);
      const admin = new AdminClient(send, TEST_ADMIN_TOKEN);
      const retry = async <T>(fn: () => Promise<T>): Promise<T> => {
        for (;;) {
          try {
            return await fn();
          } catch {
            await sleep(30);
          }
        }
      };
      const clients: InstitutionClient[] = [];
      for (let i = 0; i < CLIENTS; i++)
        clients.push(await InstitutionClient.enroll(send, admin, `기관 ${i}`));
      const newTask = async () => {
        const t = await admin.call<Task>(
          'POST',
          '/v1/admin/tasks',
          tinyTask({ rounds: ROUNDS_PER_TASK, minParticipants: 3, roundDeadlineSeconds: 120 }),
        );
        await addMembers(admin, t.id, clients, 1000);
        await admin.call('POST', `/v1/admin/tasks/${t.id}/start`);
        return t;
      };
      const tasks: Task[] = [await newTask()];
      let current = tasks[0]!;
      /** `${task}/${round}/${institution}` → sha256 of every update a client was told was accepted. */
      const acknowledged = new Map<string, string>();
      let stop = false;
      /** Requests the current server process has answered (so kills land while it is working). */
      let answered = 0;

      const delta = (c: number, round: number) => 0.01 * (c + 1) + 0.001 * round;
      const clientLoop = async (c: number) => {
        const inst = clients[c]!;
        while (!stop) {
          try {
            const task = current;
            const wr = await inst.request('GET', `/v1/tasks/${task.id}/work`);
            if (wr.status !== 200) throw new Error(`work: ${wr.status}`);
            answered++;
            const work = wr.json<WorkResponse>();
            const ins = work.instructions;
            if (ins && !work.submitted) {
              const g = readSafetensors(
                (await inst.request('GET', `/v1/tasks/${task.id}/adapters/${ins.globalVersion}`)).body,
              ).tensors;
              const names = adapterTensorSpecs(task.modelShape, task.lora).map((s) => s.name);
              const tensors: NamedTensor[] = names.map((n) => ({
                ...g.get(n)!,
                data: g.get(n)!.data.map((v) => v + delta(c, ins.round)),
              }));
              const r = await inst.uploadUpdate(task.id, ins.round, tensors, c + 1);
              if (r.status === 200) {
                const receipt = r.json<UpdateReceipt>();
                acknowledged.set(`${task.id}/${receipt.round}/${inst.id}`, receipt.sha256);
              } else debug(`${c} upload ${r.status} ${new TextDecoder().decode(r.body)}`);
            }
            await sleep(25);
          } catch (e) {
            debug(`${c} ${String(e)} ${String((e as { cause?: unknown }).cause)}`);
            await sleep(40); // server down: retry
          }
        }
      };
      const loops = clients.map((_, c) => clientLoop(c));

      let kills = 0;
      const restartMs: number[] = [];
      while (kills < KILLS || current.state !== 'completed') {
        if (kills < KILLS) {
          // Kill at a random moment once this process is serving; every other kill also waits (up to
          // 5 s) for an acknowledged update, so progress is guaranteed however slow the machine is.
          const acked = acknowledged.size;
          const since = Date.now();
          const waitForAck = () =>
            kills % 2 === 1 && acknowledged.size === acked && Date.now() - since < 5000;
          while (answered === 0 || waitForAck()) await sleep(5);
          await sleep(Math.random() * 300);
          running.child.kill('SIGKILL');
          await new Promise((r) => running!.child.once('exit', r));
          kills++;
          const t0 = performance.now();
          ({ running, next: standby } = await promote(standby!, dir));
          restartMs.push(performance.now() - t0);
          base = running.url;
          answered = 0;
        } else {
          await sleep(100);
        }
        current = await retry(() =>
          admin
            .call<Task>('GET', `/v1/admin/tasks/${current.id}`)
            .then((d) => (d as unknown as { task: Task }).task),
        );
        if (current.state === 'completed' && kills < KILLS) {
          current = await retry(newTask);
          tasks.push(current);
        }
        if (current.state === 'failed') {
          const d = await admin.call<{ rounds: { number: number; failureReason: string | null }[] }>(
            'GET',
            `/v1/admin/tasks/${current.id}`,
          );
          throw new Error(`task failed: ${JSON.stringify(d.rounds.filter((r) => r.failureReason))}`);
        }
      }
      stop = true;
      await Promise.all(loops);

      // ── assert ──
      let closedRounds = 0;
      for (const task of tasks) {
        const detail = await admin.call<{
          task: Task;
          rounds: {
            number: number;
            state: string;
            globalVersion: number;
            participants: { institutionId: string; status: string; numExamples: number }[];
          }[];
          versions: {
            version: number;
            parentVersion: number | null;
            round: number | null;
            participants: string[];
          }[];
        }>('GET', `/v1/admin/tasks/${task.id}`);
        expect(detail.task.state).toBe('completed');
        expect(detail.task.completedRounds).toBe(ROUNDS_PER_TASK);
        // no acknowledged update lost
        for (const [key, sha] of acknowledged) {
          const [taskId, round, instId] = key.split('/');
          if (taskId !== task.id) continue;
          const r = detail.rounds.find((x) => x.number === Number(round))!;
          expect(r.participants.map((p) => p.institutionId)).toContain(instId);
          expect(sha).toMatch(/^[0-9a-f]{64}$/);
        }
        // each closed round counted each participant once, and the adapter is exactly their weighted mean
        for (const v of detail.versions.filter((x) => x.version > 0)) {
          closedRounds++;
          const round = detail.rounds.find((r) => r.number === v.round)!;
          expect(round.state).toBe('closed');
          expect(new Set(v.participants).size).toBe(v.participants.length);
          expect([...v.participants].sort()).toEqual(round.participants.map((p) => p.institutionId).sort());
          const parent = readSafetensors(
            (await admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/${v.parentVersion}`)).body,
          ).tensors;
          const got = readSafetensors(
            (await admin.raw('GET', `/v1/admin/tasks/${task.id}/adapters/${v.version}`)).body,
          ).tensors;
          const weights = v.participants.map((id) => clients.findIndex((c) => c.id === id) + 1);
          const shift =
            weights.reduce((s, w) => s + w * delta(w - 1, round.number), 0) /
            weights.reduce((a, b) => a + b, 0);
          for (const [name, p] of parent) {
            const g = got.get(name)!.data;
            p.data.forEach((x, i) => expect(Math.abs(g[i]! - (x + shift))).toBeLessThan(2e-6));
          }
        }
      }
      const audit = await admin.call<{ ok: boolean; entries: number }>('GET', '/v1/admin/audit/verify');
      expect(audit.ok).toBe(true);
      expect(kills).toBeGreaterThanOrEqual(KILLS);
      expect(acknowledged.size).toBeGreaterThan(0);
      console.log(
        `crash-safety: ${kills} SIGKILLs, ${tasks.length} tasks, ${closedRounds} closed rounds, ${acknowledged.size} acknowledged updates, ` +
          `restart median ${restartMs.sort((a, b) => a - b)[restartMs.length >> 1]!.toFixed(0)} ms, audit ${audit.entries} entries OK`,
      );
    },
  );
});
