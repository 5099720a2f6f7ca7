/**
 * Secure aggregation end to end on the real server (issue #15 item 2): institutions run the
 * SecAgg+ phases through the signed HTTP API with the same client code as the console
 * (src/fl/secure-contribution.ts). Everything the server receives is captured; the test shows
 * that a masked upload looks uniform and is uncorrelated with its plaintext, that nothing of a
 * round is kept once it is aggregated, that the new adapter is the exact mean of the survivors,
 * and that the task's DP budget is spent round by round until the task stops.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adapterTensorSpecs } from '../../src/protocol/lora.ts';
import { decodeAdapter } from '../../src/protocol/adapter-codec.ts';
import type { NamedTensor } from '../../src/protocol/safetensors.ts';
import { startTestServer, tinyTask, TEST_ADMIN_TOKEN, type TestServer } from './testing/harness.ts';
import { InstitutionClient, type Transport } from './testing/client.ts';
import { runSecureRound } from './testing/secure-round.ts';
import { chiSquareTopByte, pearson } from '../../src/testing/statistics.ts';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

/** Wraps the server transport to keep every request body it receives. */
function capture(send: Transport) {
  const seen: { url: string; body: Uint8Array }[] = [];
  const wrapped: Transport = async (method, url, headers, body) => {
    if (body !== undefined)
      seen.push({
        url,
        body: typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body),
      });
    return send(method, url, headers, body);
  };
  return { seen, wrapped };
}

/** A 5-institution server with a secure task; `shape` sets the adapter size. */
async function secureSetup(opts: {
  layers: number;
  width: number;
  dp?: { epsilon: number; delta: number };
  rounds?: number;
}) {
  const server = await startTestServer();
  const cap = capture(server.send);
  const institutions: InstitutionClient[] = [];
  for (let i = 0; i < 5; i++)
    institutions.push(await InstitutionClient.enroll(cap.wrapped, server.admin, `기관 ${i + 1}`));
  const spec = tinyTask({
    modelShape: {
      numLayers: opts.layers,
      modules: {
        q_proj: { inFeatures: opts.width, outFeatures: opts.width },
        v_proj: { inFeatures: opts.width, outFeatures: opts.width },
      },
    },
    lora: { rank: 8, alpha: 16, targetModules: ['q_proj', 'v_proj'], seed: 7 },
    minParticipants: 3,
    maxUpdateNorm: 1,
    rounds: opts.rounds ?? 1,
    privacy: { secureAggregation: true, dp: opts.dp ?? null, phaseSeconds: 2 },
  });
  const task = await server.admin.call<{ id: string }>('POST', '/v1/admin/tasks', spec);
  await server.addMembers(task.id, institutions);
  await server.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
  return { server, cap, institutions, task, spec };
}

/** A random update of L2 norm `norm` around the global adapter (trained tensors only). */
function randomUpdate(
  global: Map<string, Float32Array>,
  names: string[],
  norm: number,
  seed: number,
): NamedTensor[] {
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const deltas = names.map((n) => Float32Array.from(global.get(n)!, () => rand()));
  const sq = deltas.reduce((a, d) => a + d.reduce((b, x) => b + x * x, 0), 0);
  const k = norm / Math.sqrt(sq);
  return names.map((name, i) => ({
    name,
    shape: [global.get(name)!.length],
    data: Float32Array.from(global.get(name)!, (g, j) => g + deltas[i]![j]! * k),
  }));
}

/** Drives ticks until the round is over. */
async function settle(t: TestServer, taskId: string, round: number) {
  for (let i = 0; i < 200; i++) {
    const rounds = await t.server.coordinator.rounds(taskId);
    const r = rounds.find((x) => x.number === round);
    if (r && (r.state === 'closed' || r.state === 'failed')) return r;
    await new Promise((res) => setTimeout(res, 50));
    await t.server.coordinator.tick();
  }
  throw new Error('round did not end');
}

async function globalAdapter(t: TestServer, inst: InstitutionClient, taskId: string, version: number) {
  const r = await inst.request('GET', `/v1/tasks/${taskId}/adapters/${version}`);
  expect(r.status).toBe(200);
  return new Map(decodeAdapter(r.body).lora.tensors);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('secure aggregation on the server', () => {
  it('five institutions, one drops after masking: the new adapter is the exact mean, uploads look uniform, nothing is kept', async () => {
    const s = await secureSetup({ layers: 8, width: 128 }); // 8 × 2 × (8·128 + 128·8) = 32,768 coordinates
    t = s.server;
    const global = await globalAdapter(t, s.institutions[0]!, s.task.id, 0);
    const trained = adapterTensorSpecs(s.spec.modelShape, s.spec.lora).map((x) => x.name);
    const updates = s.institutions.map((_, i) => randomUpdate(global, trained, 0.9, 1000 + i));
    const { outcomes } = await runSecureRound({
      institutions: s.institutions,
      taskId: s.task.id,
      updates,
      tick: () => t!.server.coordinator.tick(),
      behaviours: ['honest', 'honest', 'honest', 'honest', 'drop-before-unmask'],
    });
    expect(outcomes.slice(0, 4).every((o) => o !== 'dropped' && o.kind === 'contributed')).toBe(true);
    const round = await settle(t, s.task.id, 1);
    expect(round.state).toBe('closed');
    expect(round.metrics?.participants).toBe(5); // the fifth's masked input is in the sum, its mask removed from shares

    // The new global adapter is the mean of all five updates (the dropped one masked before leaving).
    const next = await globalAdapter(t, s.institutions[0]!, s.task.id, 1);
    let worst = 0;
    for (const name of trained) {
      const mean = updates.reduce(
        (acc, u) => acc.map((x, j) => x + u.find((v) => v.name === name)!.data[j]! / 5),
        new Float64Array(global.get(name)!.length),
      );
      next.get(name)!.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - mean[j]!))));
    }
    expect(worst).toBeLessThan(2 ** -20 + 1e-6); // fixed-point rounding (2^-20 per client, averaged) + float32

    // What the server received: keys, ciphertexts, masked vectors, shares — never an update.
    const masked = s.cap.seen.filter((x) => x.url.endsWith('/secure/masked'));
    expect(masked).toHaveLength(5);
    const plainQuantized = updates.map((u) => {
      const flat: number[] = [];
      for (const name of [...trained].sort()) {
        const g = global.get(name)!;
        u.find((v) => v.name === name)!.data.forEach((x, j) => flat.push(Math.round((x - g[j]!) * 2 ** 20)));
      }
      return flat;
    });
    for (const m of masked) {
      const words = new Uint32Array(
        m.body.buffer.slice(m.body.byteOffset, m.body.byteOffset + m.body.byteLength),
      );
      expect(words.length).toBe(32_768);
      // 255 degrees of freedom: the 1e-6 upper tail is 377; a plaintext update scores in the millions.
      expect(chiSquareTopByte(words)).toBeLessThan(377);
      const signed = Int32Array.from(words, (w) => w | 0);
      for (const p of plainQuantized) expect(Math.abs(pearson(signed, p))).toBeLessThan(0.03); // 5.4 σ at n = 32,768
    }
    const plainChi = chiSquareTopByte(Uint32Array.from(plainQuantized[0]!, (x) => x >>> 0));
    expect(plainChi).toBeGreaterThan(10_000); // the same test tells a plaintext update apart
    for (const x of s.cap.seen.filter((y) => !y.url.endsWith('/secure/masked'))) {
      // No JSON body carries a tensor-sized payload: only keys, ciphertexts and shares.
      expect(x.body.length).toBeLessThan(8_000);
    }

    // Retention: no masked input, message or plaintext is left once the round is aggregated.
    const rows = await t.server.db.query<{ n: number }>('SELECT count(*)::integer AS n FROM secure_messages');
    expect(rows[0]!.n).toBe(0);
    const blobs = filesUnder(join(t.dataDir, 'blobs')).filter((f) => !f.includes(`${join('blobs', 'tmp')}`));
    expect(blobs.some((f) => /u_[0-9a-f]{32}/.test(f))).toBe(false);
  }, 60_000);

  it('a client dropping before its masked input is left out and the survivors sum exactly; a plaintext upload is refused', async () => {
    const s = await secureSetup({ layers: 1, width: 16 });
    t = s.server;
    const global = await globalAdapter(t, s.institutions[0]!, s.task.id, 0);
    const trained = adapterTensorSpecs(s.spec.modelShape, s.spec.lora).map((x) => x.name);
    const updates = s.institutions.map((_, i) => randomUpdate(global, trained, 0.5, 77 + i));

    const plain = await s.institutions[0]!.uploadUpdate(s.task.id, 1, updates[0]!, 10);
    expect(plain.status).toBe(409);
    expect(plain.json<{ error: { code: string } }>().error.code).toBe('SECAGG_REFUSED');

    const { outcomes } = await runSecureRound({
      institutions: s.institutions,
      taskId: s.task.id,
      updates,
      tick: () => t!.server.coordinator.tick(),
      behaviours: ['drop-before-mask'],
    });
    expect(outcomes[0]).toBe('dropped');
    const round = await settle(t, s.task.id, 1);
    expect(round.state).toBe('closed');
    expect(round.metrics?.participants).toBe(4);
    const next = await globalAdapter(t, s.institutions[1]!, s.task.id, 1);
    for (const name of trained) {
      next.get(name)!.forEach((x, j) => {
        const mean = updates.slice(1).reduce((a, u) => a + u.find((v) => v.name === name)!.data[j]!, 0) / 4;
        expect(Math.abs(x - mean)).toBeLessThan(2 ** -20 + 1e-6);
      });
    }
  }, 60_000);

  it('distributed DP: noise of the planned size reaches the sum, ε is spent per round and the task stops when the budget is gone', async () => {
    const s = await secureSetup({ layers: 2, width: 64, dp: { epsilon: 8, delta: 1e-5 }, rounds: 2 });
    t = s.server;
    const before = (
      await t.admin.call<{
        privacy: { epsilonSpent: number; epsilonLeft: number; noiseStdPerCoordinate: number };
      }>('GET', `/v1/admin/tasks/${s.task.id}`)
    ).privacy;
    expect(before.epsilonSpent).toBe(0);
    expect(before.epsilonLeft).toBe(8);
    const trained = adapterTensorSpecs(s.spec.modelShape, s.spec.lora).map((x) => x.name);
    for (let round = 1; round <= 2; round++) {
      const global = await globalAdapter(t, s.institutions[0]!, s.task.id, round - 1);
      const updates = s.institutions.map((_, i) => randomUpdate(global, trained, 0.5, round * 10 + i));
      await runSecureRound({
        institutions: s.institutions,
        taskId: s.task.id,
        updates,
        tick: () => t!.server.coordinator.tick(),
      });
      const r = await settle(t, s.task.id, round);
      expect(r.state).toBe('closed');
      // The released mean = true mean + Skellam noise / 5: its spread matches the plan.
      const next = await globalAdapter(t, s.institutions[0]!, s.task.id, round);
      const residual: number[] = [];
      for (const name of trained)
        next.get(name)!.forEach((x, j) => {
          const mean = updates.reduce((a, u) => a + u.find((v) => v.name === name)!.data[j]!, 0) / 5;
          residual.push(x - mean);
        });
      const sd = Math.sqrt(residual.reduce((a, x) => a + x * x, 0) / residual.length);
      // Five shares of variance μ/t (t = 2 at k = 3) → sum variance 5μ/2; mean sd = sqrt(5μ/2)/5/scale.
      const expected = (before.noiseStdPerCoordinate * Math.sqrt(5 / 2)) / 5;
      expect(sd).toBeGreaterThan(expected * 0.8);
      expect(sd).toBeLessThan(expected * 1.2);
    }
    const after = (
      await t.admin.call<{ privacy: { epsilonSpent: number; epsilonLeft: number; roundsRun: number } }>(
        'GET',
        `/v1/admin/tasks/${s.task.id}`,
      )
    ).privacy;
    expect(after.roundsRun).toBe(2);
    expect(after.epsilonSpent).toBeGreaterThan(7);
    expect(after.epsilonSpent).toBeLessThanOrEqual(8 * (1 + 1e-9));
    expect((await t.server.coordinator.getTask(s.task.id)).state).toBe('completed');
    // Institutions see the budget too.
    const mine = (await s.institutions[2]!.request('GET', `/v1/tasks/${s.task.id}/privacy`)).json<{
      privacy: { epsilonSpent: number };
    }>();
    expect(mine.privacy.epsilonSpent).toBeCloseTo(after.epsilonSpent, 9);
  }, 90_000);

  it('refuses DP without secure aggregation, and a robust strategy under it', async () => {
    t = await startTestServer();
    const dpPlain = await t.send(
      'POST',
      '/v1/admin/tasks',
      { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      JSON.stringify(tinyTask({ privacy: { secureAggregation: false, dp: { epsilon: 8, delta: 1e-5 } } })),
    );
    expect(dpPlain.status).toBe(400);
    expect(dpPlain.json<{ error: { code: string } }>().error.code).toBe('DP_NEEDS_SECURE_AGGREGATION');
    const median = await t.send(
      'POST',
      '/v1/admin/tasks',
      { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      JSON.stringify(
        tinyTask({ strategy: { name: 'median' }, privacy: { secureAggregation: true, dp: null } }),
      ),
    );
    expect(median.status).toBe(400);
    expect(median.json<{ error: { code: string } }>().error.code).toBe('STRATEGY_NEEDS_PLAINTEXT');
  });
});
