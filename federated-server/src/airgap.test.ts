/**
 * Air-gapped institutions (issue #15 item 6) end to end on a listening server: three institutions
 * take part in a secure round over HTTP, a fourth only through files. Its side runs the `dure
 * airgap` CLI with `fetch` replaced by a trap (it has no server URL and opens no connection); the
 * operator exports the server's signed views and imports the institution's signed messages with
 * the CLI against the admin API. The new adapter is the mean of all four updates, and the
 * air-gapped institution verifies the exported adapter before using it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as airgap } from '../../src/cli/commands/airgap.ts';
import { decodeAdapter } from '../../src/protocol/adapter-codec.ts';
import { adapterTensorSpecs } from '../../src/protocol/lora.ts';
import { writeSafetensors, type NamedTensor } from '../../src/protocol/safetensors.ts';
import { sealInstitutionMessage } from '../../src/protocol/airgap.ts';
import { generateInstitutionKeyPair } from '../../src/protocol/signing.ts';
import { startTestServer, tinyTask, TEST_ADMIN_TOKEN, type TestServer } from './testing/harness.ts';
import { AdminClient, InstitutionClient, makeReply, type Transport } from './testing/client.ts';
import { downloadGlobal, runSecureRound } from './testing/secure-round.ts';

let t: TestServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
  await t?.cleanup();
  t = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A deterministic update of L2 norm `norm` around the global adapter. */
function update(
  global: Map<string, Float32Array>,
  names: string[],
  norm: number,
  seed: number,
): NamedTensor[] {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5;
  const deltas = names.map((n) => Float32Array.from(global.get(n)!, () => rand()));
  const k = norm / Math.sqrt(deltas.reduce((a, d) => a + d.reduce((b, x) => b + x * x, 0), 0));
  return names.map((name, i) => ({
    name,
    shape: [global.get(name)!.length],
    data: Float32Array.from(global.get(name)!, (g, j) => g + deltas[i]![j]! * k),
  }));
}

/** The real fetch, kept before any trap is set: the online institutions and the test use it. */
const realFetch = globalThis.fetch;
function httpTransport(base: string): Transport {
  return async (method, url, headers, body) => {
    const res = await realFetch(base + url, {
      method,
      headers,
      ...(body !== undefined ? { body: body as BodyInit } : {}),
    });
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => (out[k] = v));
    return makeReply(res.status, new Uint8Array(await res.arrayBuffer()), out);
  };
}

/** Runs `dure airgap …`; `offline` replaces fetch with a trap that counts attempts. */
async function cli(args: string[], offline: boolean) {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  let attempts = 0;
  if (offline)
    globalThis.fetch = (() => {
      attempts++;
      throw new Error('the air-gapped side opened a connection');
    }) as typeof fetch;
  try {
    const code = await airgap(args);
    return { code, out, err, attempts };
  } finally {
    globalThis.fetch = realFetch;
    o.mockRestore();
    e.mockRestore();
  }
}

describe('air-gapped institution (망연계)', () => {
  it('takes part in a secure round by file transfer; the aggregate is the mean of all four; it verifies the exported adapter', async () => {
    t = await startTestServer({ options: { tickMs: 100 } });
    await t.server.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(t.server.app.server.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'dure-airgap-'));
    const f = (name: string) => join(dir!, name);
    vi.stubEnv('DURE_ADMIN_TOKEN', TEST_ADMIN_TOKEN);
    vi.stubEnv('DURE_AIRGAP_PASSPHRASE', '분리망 금고 암호 correct horse');
    vi.stubEnv('DURE_AIRGAP_KDF_ITERATIONS', '100000');

    const http = httpTransport(base);
    const admin = new AdminClient(http, TEST_ADMIN_TOKEN);
    const online: InstitutionClient[] = [];
    for (let i = 0; i < 3; i++)
      online.push(await InstitutionClient.enroll(http, admin, `온라인 병원 ${i + 1}`));

    // The hospital makes its key on the separated side and pins the server key the operator gave it.
    const serverKey = (await (await realFetch(`${base}/v1/server-key`)).json()) as { publicKey: string };
    const init = await cli(['init', '--state', f('vault'), '--server-key', serverKey.publicKey], true);
    expect(init.code, init.err).toBe(0);
    const { publicKey } = JSON.parse(init.out) as { publicKey: string };
    // The operator enrolls that public key with the institution's one-time code.
    const { enrollmentCode } = await admin.call<{ enrollmentCode: string }>(
      'POST',
      '/v1/admin/institutions',
      {
        name: '분리망 병원',
      },
    );
    const enrolled = await http(
      'POST',
      '/v1/enroll',
      { 'content-type': 'application/json' },
      JSON.stringify({ code: enrollmentCode, publicKey }),
    );
    const airId = enrolled.json<{ institutionId: string }>().institutionId;

    const spec = tinyTask({
      minParticipants: 3,
      maxUpdateNorm: 1,
      rounds: 2,
      privacy: { secureAggregation: true, dp: null, phaseSeconds: 60 },
    });
    const task = await admin.call<{ id: string }>('POST', '/v1/admin/tasks', spec);
    for (const m of [...online, { id: airId }])
      await admin.call('POST', `/v1/admin/tasks/${task.id}/members`, { institutionId: m.id });
    await admin.call('POST', `/v1/admin/tasks/${task.id}/start`);

    const trained = adapterTensorSpecs(spec.modelShape, spec.lora).map((x) => x.name);
    const v0 = await downloadGlobal(online[0]!, task.id, 0);
    const updates = [0, 1, 2, 3].map((i) => update(v0, trained, 0.8, 500 + i));
    writeFileSync(f('update.safetensors'), writeSafetensors(updates[3]!));

    const httpRound = runSecureRound({
      institutions: online,
      taskId: task.id,
      updates: updates.slice(0, 3),
      pollMs: 150,
      settle: false,
    });

    // The file loop: operator exports a view → hospital runs a step → operator imports its message.
    expect(
      (
        await cli(
          ['adapter-export', '--server', base, '--task', task.id, '--version', '0', '--out', f('v0.json')],
          false,
        )
      ).code,
    ).toBe(0);
    const sent: string[] = [];
    let offlineAttempts = 0;
    let outcome: { kind: string } | undefined;
    for (let i = 0; i < 200 && !outcome; i++) {
      const ex = await cli(
        ['export', '--server', base, '--task', task.id, '--institution', airId, '--out', f('view.json')],
        false,
      );
      expect(ex.code, ex.err).toBe(0);
      const first = sent.length === 0;
      const st = await cli(
        [
          'step',
          '--state',
          f('vault'),
          '--in',
          f('view.json'),
          '--out',
          f(`msg${sent.length}.json`),
          ...(first ? ['--adapter', f('v0.json'), '--update', f('update.safetensors')] : []),
        ],
        true,
      );
      offlineAttempts += st.attempts;
      expect(st.code, st.err).toBe(0);
      console.log(i, st.out.trim(), readFileSync(f('view.json'), 'utf8').slice(0, 0));
      const r = JSON.parse(st.out) as { status: string; phase?: string; outcome?: { kind: string } };
      if (r.status === 'sent') {
        const msg = f(`msg${sent.length}.json`);
        sent.push(r.phase!);
        const im = await cli(['import', '--server', base, msg], false);
        expect(im.code, im.err).toBe(0);
      } else if (r.status === 'over') outcome = r.outcome;
      else await new Promise((res) => setTimeout(res, 40));
    }
    expect(offlineAttempts).toBe(0);
    expect(sent).toEqual(['advertise', 'share', 'masked', 'unmask']);
    expect(outcome?.kind).toBe('contributed');
    const { outcomes } = await httpRound;
    expect(outcomes.every((o) => o !== 'dropped' && o.kind === 'contributed')).toBe(true);

    // The round closes with all four; v1 is their mean within the fixed-point bound.
    let closed = false;
    for (let i = 0; i < 200 && !closed; i++) {
      const rounds = await t.server.coordinator.rounds(task.id);
      const r1 = rounds.find((r) => r.number === 1);
      if (r1?.state === 'failed') throw new Error(`round failed: ${JSON.stringify(r1)}`);
      closed = r1?.state === 'closed';
      if (!closed) await new Promise((res) => setTimeout(res, 40));
    }
    expect(closed).toBe(true);
    const v1 = await downloadGlobal(online[0]!, task.id, 1);
    let worst = 0;
    for (const name of trained) {
      const got = v1.get(name)!;
      got.forEach((x, j) => {
        const mean = updates.reduce((a, u) => a + u.find((v) => v.name === name)!.data[j]! / 4, 0);
        worst = Math.max(worst, Math.abs(x - mean));
      });
    }
    expect(worst).toBeLessThan(2 ** -20 + 1e-6);
    expect(worst).toBeGreaterThan(0); // the air-gapped update is in the mean (not a copy of the others')

    // The operator exports v1; the hospital verifies it offline and gets exactly the members' file.
    expect(
      (
        await cli(
          ['adapter-export', '--server', base, '--task', task.id, '--version', '1', '--out', f('v1.json')],
          false,
        )
      ).code,
    ).toBe(0);
    const ver = await cli(
      [
        'adapter-verify',
        '--server-key',
        serverKey.publicKey,
        '--task',
        task.id,
        '--in',
        f('v1.json'),
        '--out',
        f('v1.safetensors'),
      ],
      true,
    );
    expect(ver.code, ver.err).toBe(0);
    expect(ver.attempts).toBe(0);
    const verified = new Map(decodeAdapter(new Uint8Array(readFileSync(f('v1.safetensors')))).lora.tensors);
    for (const name of trained) expect(verified.get(name)).toEqual(v1.get(name));
    // …and refuses the same file with one byte of the adapter changed.
    const doc = JSON.parse(readFileSync(f('v1.json'), 'utf8')) as { payload: string };
    const payload = JSON.parse(doc.payload) as { adapter: string };
    const flipped =
      payload.adapter.slice(0, 100) + (payload.adapter[100] === 'A' ? 'B' : 'A') + payload.adapter.slice(101);
    writeFileSync(
      f('v1-bad.json'),
      JSON.stringify({ ...doc, payload: JSON.stringify({ ...payload, adapter: flipped }) }),
    );
    const bad = await cli(
      [
        'adapter-verify',
        '--server-key',
        serverKey.publicKey,
        '--in',
        f('v1-bad.json'),
        '--out',
        f('bad.safetensors'),
      ],
      true,
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('AIRGAP_BAD_SIGNATURE');

    // A replayed message is refused by the route's own replay check, and nothing is audited for it.
    const imports = async () =>
      (await admin.call<{ type: string }[]>('GET', '/v1/admin/audit?after=0&limit=1000')).filter(
        (e) => e.type === 'airgap.imported',
      ).length;
    expect(await imports()).toBe(4);
    const again = await cli(['import', '--server', base, f('msg0.json')], false);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^error SERVER_REFUSED: .*REPLAYED/);
    expect(await imports()).toBe(4);

    // A file lost in transfer can be written again, byte for byte (here it did arrive: REPLAYED).
    const re = await cli(
      ['resend', '--state', f('vault'), '--task', task.id, '--round', '1', '--out', f('again.json')],
      true,
    );
    expect(re.code, re.err).toBe(0);
    expect(readFileSync(f('again.json'), 'utf8')).toBe(readFileSync(f('msg3.json'), 'utf8'));

    // The import route is the institution's route: a message signed by another key in the
    // institution's name, or with its body changed, is refused and nothing is stored.
    const impostor = await generateInstitutionKeyPair();
    const forged = await sealInstitutionMessage({
      privateKey: impostor.privateKey,
      institutionId: airId,
      taskId: task.id,
      round: 2,
      phase: 'advertise',
      body: { kind: 'secagg/advertise-keys' },
    });
    const viaRoute = (body: string) =>
      http(
        'POST',
        '/v1/admin/airgap/import',
        { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body,
      );
    const r1 = await viaRoute(forged);
    expect([r1.status, r1.json<{ error: { code: string } }>().error.code]).toEqual([401, 'BAD_SIGNATURE']);
    const genuine = JSON.parse(readFileSync(f('msg1.json'), 'utf8')) as { request: { body: string } };
    const changed = {
      ...genuine,
      request: {
        ...genuine.request,
        body: genuine.request.body.replace(/^./, (c) => (c === 'e' ? 'f' : 'e')),
      },
    };
    const r2 = await viaRoute(JSON.stringify(changed));
    expect([r2.status, r2.json<{ error: { code: string } }>().error.code]).toEqual([
      400,
      'AIRGAP_BAD_SIGNATURE',
    ]);
    const rows = await t.server.db.query<{ n: number }>('SELECT count(*)::integer AS n FROM secure_messages');
    expect(rows[0]!.n).toBe(0);
    expect(await imports()).toBe(4);
  }, 60_000);
});
