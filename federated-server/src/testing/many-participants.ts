/**
 * One round with N participants under a small descriptor limit. The process starts with the
 * usual limit (loading ~1 000 modules and PGlite, which keeps one descriptor per relation file,
 * need more than the test is about), accepts N updates, then lowers its own limit with
 * `prlimit` to what it holds plus `headroom`, and aggregates. Aggregation that opened every
 * update at once would need N more descriptors and fail with EMFILE; bounded batches fit.
 * Prints one JSON line: the limit aggregation ran under, the round states and participants.
 *
 *   node --import tsx many-participants.ts <N> <headroom> <maxOpenUpdateFiles>
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../../../src/protocol/safetensors.ts';
import { adapterTensorSpecs } from '../../../src/protocol/lora.ts';
import { UPDATE_META } from '../../../src/protocol/schemas.ts';
import { createInstitution } from '../identity.ts';
import { addMember } from '../membership.ts';
import { startTestServer, tinyTask } from './harness.ts';

const n = Number(process.argv[2] ?? 110);
const headroom = Number(process.argv[3] ?? 48);
const maxOpen = Number(process.argv[4] ?? 16);
const t = await startTestServer({ options: { coordinator: { maxOpenUpdateFiles: maxOpen } } });
try {
  const { coordinator, db } = t.server;
  const task = await coordinator.createTask(tinyTask({ rounds: 1 }));
  await coordinator.startTask(task.id);
  // Members straight in the database: enrolment and request signing are not what this measures.
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { institution } = await createInstitution(db, `기관 ${i}`);
    ids.push(institution.id);
  }
  await db.query(`UPDATE institutions SET status = 'active'`);
  for (const id of ids) await addMember(db, task.id, id, null);
  const version0 = await coordinator.version(task.id, 0);
  const f = await version0.open();
  const { tensors } = readSafetensors(await f.readAll());
  await f.close();
  const specs = adapterTensorSpecs(task.modelShape, task.lora);
  for (const [i, id] of ids.entries()) {
    const bytes = writeSafetensors(
      specs.map((s) => {
        const g = tensors.get(s.name)!;
        return { ...g, data: g.data.map((v) => v + (i % 7) * 0.01) };
      }),
      { [UPDATE_META.numExamples]: '10', [UPDATE_META.round]: '1' },
    );
    const path = join(t.dataDir, `update-${i}.safetensors`);
    writeFileSync(path, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await coordinator.submitUpdate(id, task.id, 1, { path, sha256 });
  }
  const held = readdirSync('/proc/self/fd').length;
  const limit = held + headroom;
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${limit}:${limit}`]);
  const applied = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  await coordinator.tick(); // every member is in: aggregate now
  const rounds = await coordinator.rounds(task.id);
  const versions = await coordinator.versions(task.id);
  console.log(
    JSON.stringify({
      held,
      limit: Number(applied),
      rounds: rounds.map((r) => r.state),
      failure: rounds[0]?.failureReason ?? null,
      pending: coordinator.resourceFaults.current()?.code ?? null,
      participants: versions[1]?.participants.length ?? 0,
    }),
  );
} finally {
  await t.cleanup();
}
