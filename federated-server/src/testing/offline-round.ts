/**
 * Runs one tiny federated round against a server at a URL: an admin creates and starts a task,
 * two institutions enrol, download the global adapter, upload updates, and the server's own
 * timer aggregates. Prints one JSON line (task state, round states, participants, whether the
 * dashboard page is served). The offline-bundle test runs it inside a network namespace with no
 * route out, next to the server unpacked from the archive.
 *
 *   node --import tsx offline-round.ts <url> <admin token>
 */
import { readSafetensors } from '../../../src/protocol/safetensors.ts';
import { adapterTensorSpecs } from '../../../src/protocol/lora.ts';
import type { RoundDetail, Task } from '../../../src/protocol/schemas.ts';
import { AdminClient, httpTransport, InstitutionClient } from './client.ts';
import { tinyTask } from './harness.ts';

const [url, token] = process.argv.slice(2) as [string, string];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (let i = 0; ; i++) {
  const ready = await fetch(`${url}/readyz`).catch(() => undefined);
  if (ready?.ok) break;
  if (i > 600) throw new Error(`server at ${url} not ready after 60 s`);
  await sleep(100);
}
const send = httpTransport(url);
const admin = new AdminClient(send, token);
const task = await admin.call<Task>('POST', '/v1/admin/tasks', tinyTask({ rounds: 1 }));
await admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
const members = [
  await InstitutionClient.enroll(send, admin, 'A 병원'),
  await InstitutionClient.enroll(send, admin, 'B 구청'),
];
for (const m of members)
  await admin.call('POST', `/v1/admin/tasks/${task.id}/members`, { institutionId: m.id });
for (const [i, m] of members.entries()) {
  const latest = await m.request('GET', `/v1/tasks/${task.id}/adapters/latest`);
  const { tensors } = readSafetensors(latest.body);
  const update = adapterTensorSpecs(task.modelShape, task.lora).map((s) => ({
    ...tensors.get(s.name)!,
    data: tensors.get(s.name)!.data.map((v) => v + (i + 1) * 0.1),
  }));
  const r = await m.uploadUpdate(task.id, 1, update, 10);
  if (r.status !== 200) throw new Error(`upload → ${r.status} ${new TextDecoder().decode(r.body)}`);
}
let detail: { task: Task; rounds: RoundDetail[]; versions: { participants: string[] }[] };
for (let i = 0; ; i++) {
  detail = await admin.call('GET', `/v1/admin/tasks/${task.id}`);
  if (detail.task.state === 'completed' || i > 300) break;
  await sleep(100);
}
const dashboard = await fetch(`${url}/admin`);
console.log(
  JSON.stringify({
    state: detail.task.state,
    rounds: detail.rounds.map((r) => r.state),
    participants: detail.versions[1]?.participants.length ?? 0,
    dashboard: dashboard.status,
  }),
);
