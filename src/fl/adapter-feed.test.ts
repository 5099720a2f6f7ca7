/**
 * The widget's adapter feed against the real server: a task that publishes adapters serves its
 * latest global adapter without a signature, self-described (rank, alpha, targets in its metadata);
 * a private task answers NOT_FOUND; a tampered body or an over-large one is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpTransport, InstitutionClient } from '../../federated-server/src/testing/client.ts';
import { publicTinyTask, tinyTask } from '../../federated-server/src/testing/harness.ts';
import { runSecureRound, shiftGlobal } from '../../federated-server/src/testing/secure-round.ts';
import { adapterTensorSpecs, initialAdapter } from '../protocol/lora.ts';
import { writeSafetensors } from '../protocol/safetensors.ts';
import { AdapterIntegrityError, ServerRefusedError } from './errors.ts';
import { fetchLatestAdapter, ifNoneMatchFor, isUnchanged, parseGlobalAdapter } from './adapter-feed.ts';
import { listenServer, type ListeningServer } from '../testing/test-server.ts';

/** Public adapters need a cohort of at least 5 and DP under secure aggregation (issue #15). */
const publicTask = publicTinyTask;

describe('fetchLatestAdapter', () => {
  let srv: ListeningServer;
  beforeAll(async () => {
    srv = await listenServer({ tickMs: 0 });
  });
  afterAll(() => srv.close());

  it('downloads a public task adapter unsigned, with its LoRA config and a verified SHA-256', async () => {
    const spec = publicTask({
      lora: { rank: 2, alpha: 8, targetModules: ['q_proj', 'v_proj'], seed: 7 },
    });
    const task = await srv.startTask(spec);
    const a = await fetchLatestAdapter(srv.url + '/', task.id);
    expect(a.version).toBe(0);
    expect(a.config).toEqual({
      peft_type: 'LORA',
      r: 2,
      lora_alpha: 8,
      target_modules: ['q_proj', 'v_proj'],
    });
    expect(a.lora).toMatchObject({ rank: 2, alpha: 8, targetModules: ['q_proj', 'v_proj'] });
    // exactly the server's seeded version 0: A from the seed, B zero
    const expected = initialAdapter(spec.modelShape, spec.lora);
    expect([...a.lora.tensors.keys()]).toEqual(expected.map((t) => t.name));
    for (const t of expected) expect(a.lora.tensors.get(t.name)).toEqual(t.data);
    const { versions } = await srv.admin.call<{ versions: { sha256: string }[] }>(
      'GET',
      `/v1/admin/tasks/${task.id}`,
    );
    expect(a.sha256).toBe(versions[0]!.sha256);
    expect(a.shapes.get(adapterTensorSpecs(spec.modelShape, spec.lora)[1]!.name)).toEqual([4, 2]);
  });

  it('answers NOT_FOUND for a task that does not publish, and refuses tampered or over-large bodies', async () => {
    const priv = await srv.startTask(tinyTask({ publicAdapters: false }));
    const err = await fetchLatestAdapter(srv.url, priv.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerRefusedError);
    expect(err).toMatchObject({ status: 404, serverCode: 'NOT_FOUND' });

    const pub = await srv.startTask(publicTask());
    const tamper: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const body = new Uint8Array(await res.arrayBuffer());
      body[body.length - 1]! ^= 0x40; // one bit of one float
      return new Response(body, { status: res.status, headers: res.headers });
    };
    await expect(fetchLatestAdapter(srv.url, pub.id, { fetch: tamper })).rejects.toThrow(
      /differs from the announced/,
    );
    await expect(fetchLatestAdapter(srv.url, pub.id, { maxBytes: 100 })).rejects.toBeInstanceOf(
      AdapterIntegrityError,
    );
  });

  it('polls conditionally: an unchanged adapter is a bodiless 304, a new version is downloaded and verified', async () => {
    const insts: InstitutionClient[] = [];
    for (let i = 0; i < 5; i++)
      insts.push(await InstitutionClient.enroll(httpTransport(srv.url), srv.admin, `행복시청 ${i}`));
    const pub = await srv.startTask(
      publicTask(),
      insts.map((i) => i.id),
    );
    const seen: { inm: string | null; status: number; bodyBytes: number }[] = [];
    const recording: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const body = new Uint8Array(await res.clone().arrayBuffer());
      seen.push({
        inm: new Headers(init?.headers).get('if-none-match'),
        status: res.status,
        bodyBytes: body.byteLength,
      });
      return res;
    };
    const first = await fetchLatestAdapter(srv.url, pub.id, { fetch: recording, known: null });
    if (isUnchanged(first)) throw new Error('nothing was held, yet the answer is "unchanged"');
    expect(first.etag).toBe(`"${first.sha256}"`);
    expect(seen.at(-1)).toMatchObject({ inm: null, status: 200 });
    expect(seen.at(-1)!.bodyBytes).toBe(first.bytes.byteLength);

    // held by SHA-256 alone (the ETag unreadable) or by the ETag the server sent: both are 304
    for (const known of [{ sha256: first.sha256 }, { sha256: first.sha256, etag: first.etag }]) {
      const again = await fetchLatestAdapter(srv.url, pub.id, { fetch: recording, known });
      expect(again).toEqual({ unchanged: true, sha256: first.sha256, etag: first.etag, version: 0 });
      expect(seen.at(-1)).toEqual({ inm: first.etag, status: 304, bodyBytes: 0 });
    }
    // a malformed ETag is not echoed: the SHA-256 names the file instead
    expect(ifNoneMatchFor({ sha256: first.sha256, etag: '"x"\r\nx-evil: 1' })).toBe(`"${first.sha256}"`);
    await expect(
      fetchLatestAdapter(srv.url, pub.id, { known: { sha256: 'not-a-hash' } }),
    ).rejects.toBeInstanceOf(AdapterIntegrityError);

    // a 304 that announces a different file than the one held is refused
    const lying: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const headers = new Headers(res.headers);
      headers.set('x-dure-adapter-sha256', 'f'.repeat(64));
      return new Response(null, { status: res.status, headers });
    };
    await expect(
      fetchLatestAdapter(srv.url, pub.id, { fetch: lying, known: { sha256: first.sha256 } }),
    ).rejects.toThrow(/not modified.*announces SHA-256 f{64}/);

    // a secure round makes version 1 and an admin releases it: the same conditional poll now
    // downloads it, hash-checked
    const { outcomes } = await runSecureRound({
      institutions: insts,
      taskId: pub.id,
      updates: shiftGlobal(0.1),
      tick: () => srv.server.coordinator.tick(),
    });
    expect(outcomes.every((o) => o !== 'dropped' && o.kind === 'contributed')).toBe(true);
    // until then it is a candidate: the widget is told "unchanged", and a pin to it is refused
    expect(isUnchanged(await fetchLatestAdapter(srv.url, pub.id, { known: first }))).toBe(true);
    const unreleased = await fetchLatestAdapter(srv.url, pub.id, { pin: 1 }).catch((e: unknown) => e);
    expect([
      (unreleased as ServerRefusedError).status,
      (unreleased as ServerRefusedError).serverCode,
    ]).toEqual([404, 'NOT_FOUND']);
    await srv.admin.call('POST', `/v1/admin/tasks/${pub.id}/releases/1/evaluation`, {
      passed: true,
      summary: 'test evaluation',
    });
    await srv.admin.call('POST', `/v1/admin/tasks/${pub.id}/releases/1/approve`, {});
    const next = await fetchLatestAdapter(srv.url, pub.id, { fetch: recording, known: first });
    if (isUnchanged(next)) throw new Error('version 1 was published, yet the answer is "unchanged"');
    expect(seen.at(-1)).toMatchObject({ inm: first.etag, status: 200 });
    expect(next.version).toBe(1);
    expect(next.sha256).not.toBe(first.sha256);
    expect(next.etag).toBe(`"${next.sha256}"`);
    // the same tensors with new (DP-noised) values
    expect([...next.lora.tensors.keys()]).toEqual([...first.lora.tensors.keys()]);
    expect(
      [...next.lora.tensors].some(([name, d]) => d.some((v, j) => v !== first.lora.tensors.get(name)![j])),
    ).toBe(true);
    // and a tampered body of the new version is still caught when the request was conditional
    const tamper: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const body = new Uint8Array(await res.arrayBuffer());
      body[body.length - 1]! ^= 0x40;
      return new Response(body, { status: res.status, headers: res.headers });
    };
    await expect(fetchLatestAdapter(srv.url, pub.id, { fetch: tamper, known: first })).rejects.toThrow(
      /differs from the announced/,
    );
    // a widget pinned to version 0 keeps it (immutable: its poll is a 304) while stable is v1
    const pinned = await fetchLatestAdapter(srv.url, pub.id, { pin: 0, known: null });
    expect([pinned.version, pinned.sha256]).toEqual([0, first.sha256]);
    expect(isUnchanged(await fetchLatestAdapter(srv.url, pub.id, { pin: 0, known: first }))).toBe(true);
    await expect(fetchLatestAdapter(srv.url, pub.id, { pin: -1 })).rejects.toThrow(/whole number/);
  });

  it('refuses adapter files without their LoRA config or with foreign tensors', async () => {
    const t = {
      name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
      shape: [2, 4],
      data: new Float32Array(8),
    };
    await expect(parseGlobalAdapter(writeSafetensors([t]))).rejects.toThrow(/rank and alpha/);
    const meta = { 'dure.lora_rank': '2', 'dure.lora_alpha': '4', 'dure.lora_target_modules': '["q_proj"]' };
    expect((await parseGlobalAdapter(writeSafetensors([t], meta))).lora.rank).toBe(2);
    await expect(
      parseGlobalAdapter(writeSafetensors([{ ...t, name: 'model.embed_tokens.weight' }], meta)),
    ).rejects.toThrow(/unexpected tensor/);
    await expect(parseGlobalAdapter(writeSafetensors([{ ...t, shape: [4, 2] }], meta))).rejects.toThrow(
      /not rank 2/,
    );
    await expect(parseGlobalAdapter(new Uint8Array([1, 2, 3]))).rejects.toBeInstanceOf(AdapterIntegrityError);
  });
});
