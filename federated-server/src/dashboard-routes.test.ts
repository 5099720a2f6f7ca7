/**
 * The admin routes the dashboard's wizard and task page need (issue #20): the model catalogue read
 * from GGUF files, re-issuing a pending institution's enrolment code, who takes part in the
 * current round, and the deployment addresses shown with enrolment codes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BaseModelInfo, Task, TaskActivity } from '../../src/protocol/schemas.ts';
import { readSafetensors } from '../../src/protocol/safetensors.ts';
import { generateInstitutionKeyPair } from '../../src/protocol/signing.ts';
import { parseGgufHeader } from './model-catalog.ts';
import { startTestServer, tinyTask, type TestServer } from './testing/harness.ts';

const DEMO = new URL('../../public/models/demo.json', import.meta.url);

describe('dashboard admin routes', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ options: { consoleUrl: 'https://console.example/console.html' } });
  });
  afterAll(() => t.cleanup());

  it('lists the demo model with its hash, architecture and shapes read from the GGUF', async () => {
    const models = await t.admin.call<BaseModelInfo[]>('GET', '/v1/admin/models');
    const demo = models.find((m) => m.id === 'demo')!;
    const descriptor = JSON.parse(readFileSync(DEMO, 'utf8')) as {
      sha256: string;
      architecture: string;
      shape: { nEmbd: number; nLayer: number; nHead: number; nHeadKv: number; headDim: number; nFf: number };
    };
    const bytes = readFileSync(new URL('../../public/models/demo.gguf', import.meta.url));
    expect(demo.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(demo.sha256).toBe(descriptor.sha256);
    expect(demo.architecture).toBe(descriptor.architecture);
    const s = descriptor.shape;
    expect(demo.shape.numLayers).toBe(s.nLayer);
    expect(demo.shape.modules['q_proj']).toEqual({ inFeatures: s.nEmbd, outFeatures: s.nHead * s.headDim });
    expect(demo.shape.modules['v_proj']).toEqual({ inFeatures: s.nEmbd, outFeatures: s.nHeadKv * s.headDim });
    expect(demo.shape.modules['down_proj']).toEqual({ inFeatures: s.nFf, outFeatures: s.nEmbd });
  });

  it('refuses a file that is not GGUF or ends inside its header', () => {
    expect(() => parseGgufHeader(new TextEncoder().encode('NOPE0000'))).toThrow(/not a GGUF/);
    const bytes = readFileSync(new URL('../../public/models/demo.gguf', import.meta.url));
    expect(() => parseGgufHeader(bytes.subarray(0, 100))).toThrow(/ends/);
  });

  it('re-issues a pending institution code: the old code stops working, the new one enrols; audited', async () => {
    const created = await t.admin.call<{ institution: { id: string }; enrollmentCode: string }>(
      'POST',
      '/v1/admin/institutions',
      { name: '다시 받는 구청' },
    );
    const id = created.institution.id;
    const again = await t.admin.call<{ enrollmentCode: string }>(
      'POST',
      `/v1/admin/institutions/${id}/enrollment-code`,
    );
    expect(again.enrollmentCode).not.toBe(created.enrollmentCode);
    const { publicKey } = await generateInstitutionKeyPair();
    const enrol = (code: string) =>
      t.send(
        'POST',
        '/v1/enroll',
        { 'content-type': 'application/json' },
        JSON.stringify({ code, publicKey }),
      );
    expect((await enrol(created.enrollmentCode)).status).toBe(401);
    expect((await enrol(again.enrollmentCode)).status).toBe(200);
    // enrolled: no more codes
    const late = await t.admin.raw('POST', `/v1/admin/institutions/${id}/enrollment-code`);
    expect(late.status).toBe(409);
    expect(late.json<{ error: { code: string } }>().error.code).toBe('NOT_PENDING');
    const audit = await t.admin.call<{ type: string; data: { institutionId?: string } }[]>(
      'GET',
      '/v1/admin/audit?limit=1000',
    );
    expect(audit.filter((e) => e.data.institutionId === id).map((e) => e.type)).toEqual([
      'institution.created',
      'institution.enrollment_code_reissued',
      'institution.enrolled',
    ]);
  });

  it('names who submitted in the open round (admins only) and nobody between rounds', async () => {
    const task = await t.admin.call<Task>('POST', '/v1/admin/tasks', tinyTask());
    const activity = () => t.admin.call<TaskActivity>('GET', `/v1/admin/tasks/${task.id}/activity`);
    expect(await activity()).toEqual({ round: null, institutions: [] });
    const a = await t.enroll('가람 병원');
    const b = await t.enroll('나래 구청');
    await t.addMembers(task.id, [a, b]);
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    expect((await activity()).round).toMatchObject({ number: 1, state: 'open', securePhase: null });
    // a's update (the global adapter itself, a zero step) arrives; b has not sent anything
    const global = readSafetensors((await a.request('GET', `/v1/tasks/${task.id}/adapters/latest`)).body);
    expect((await a.uploadUpdate(task.id, 1, [...global.tensors.values()], 10)).status).toBe(200);
    expect((await activity()).institutions).toEqual([
      { institutionId: a.id, name: '가람 병원', activity: 'submitted' },
    ]);
    // an institution's signed request to the admin route is refused
    expect((await a.request('GET', `/v1/admin/tasks/${task.id}/activity`)).status).toBe(401);
  });

  it('tells the console and server addresses for enrolment instructions', async () => {
    const d = await t.admin.call<{ consoleUrl: string; serverUrl: string }>('GET', '/v1/admin/deployment');
    expect(d.consoleUrl).toBe('https://console.example/console.html');
    expect(d.serverUrl).toMatch(/^http:\/\//);
  });
});
