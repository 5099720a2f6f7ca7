/**
 * Every kernel against a plain float64 CPU reference on random inputs, with shapes that are not
 * multiples of the workgroup size, through both the subgroup and the shared-memory reduction paths.
 * Weight products run the GPU-shaped kernels (the emulator's default is the register-tile kernel
 * alone): GEMV for one token, register tile for 2–7, tiled GEMM from 8 — the GEMM with an 8 × 8
 * tile and the GEMV staging x 64 vec4s at a time here, so that small shapes cross ragged tile
 * edges in both dimensions and k = 512 takes two staging chunks, and SwiftShader, whose compile
 * time grows with workgroup memory, compiles one GEMV per type in about a second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as P from './params.ts';
import { dequantize } from '../gguf/quant/index.ts';
import { quantize } from '../../tools/gguf/quantize.ts';
import { GgmlType } from '../gguf/types.ts';
import { GpuHarness, randn, relL2, rng } from '../../testing/gpu-harness.ts';
import { ropeTable } from '../model/rope-table.ts';
import { uploadF32, uploadWeight, uploadWeightGroup } from './gpu-weight.ts';
import { GPU_WEIGHT_TYPES } from './weight-layout.ts';
import { kernelFamilies, wgslIncludes } from './sources.ts';

/** Every weight type with a GPU row in the quant registry. */
const TYPES = GPU_WEIGHT_TYPES;

/** Quantizes random weights, returning the bytes and what they dequantize to (the CPU truth). */
function randomWeight(type: GgmlType, rows: number, k: number, seed: number) {
  const values = randn(rows * k, rng(seed), 0.5);
  const bytes = quantize(type, values);
  return { bytes, deq: dequantize(type, bytes, rows * k) };
}

function matmulRef(w: Float32Array, x: Float32Array, rows: number, k: number, nTok: number): Float64Array {
  const out = new Float64Array(nTok * rows);
  for (let t = 0; t < nTok; t++)
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += (w[r * k + i] as number) * (x[t * k + i] as number);
      out[t * rows + r] = s;
    }
  return out;
}

for (const subgroups of [true, false]) {
  describe(`kernels (${subgroups ? 'subgroups' : 'shared-memory reduction'})`, () => {
    let h: GpuHarness;
    beforeAll(async () => {
      h = await GpuHarness.create({
        subgroups,
        gpuMatmul: true,
        gemmTile: { rows: 8, tokens: 8 },
        gemvXChunk: 64,
      });
    });
    afterAll(() => h.destroy());

    describe('matmul', () => {
      const shapes: [number, number, number][] = [
        [1, 256, 1],
        [67, 256, 1],
        // GEMV staging x in three chunks.
        [9, 768, 1],
        [5, 512, 3],
        [130, 256, 6],
        // Tiled GEMM: 13 rows = 8 + 5, 17 tokens = 8 + 8 + 1.
        [13, 512, 17],
      ];
      for (const type of TYPES) {
        it.each(shapes)(`${GgmlType[type]} rows=%i k=%i tokens=%i`, async (rows, k, nTok) => {
          const { bytes, deq } = randomWeight(type, rows, k, rows * 31 + k + type);
          const x = randn(nTok * k, rng(7 + nTok));
          const weight = uploadWeight(h.device, 'w', type, bytes, rows, k);
          const out = h.storage(nTok * rows * 4);
          h.run(await h.ops.matmul({ weight, x: h.storage(x), out }), { nTokens: nTok, pos: 0 });
          const got = await h.readF32(out, nTok * rows);
          expect(relL2(got, matmulRef(deq, x, rows, k, nTok))).toBeLessThan(1e-5);
          weight.parts.forEach((p) => p.buffer.destroy());
        });
      }

      it.each([5, 9])(
        'adds bias, accumulates into out, soft-caps, and can take only the last token (%i tokens)',
        async (nTok) => {
          const rows = 40;
          const k = 64;
          const { bytes, deq } = randomWeight(GgmlType.F32, rows, k, 3);
          const x = randn(nTok * k, rng(4));
          const bias = randn(rows, rng(5));
          const prior = randn(nTok * rows, rng(6));
          const weight = uploadWeight(h.device, 'w', GgmlType.F32, bytes, rows, k);
          const ref = matmulRef(deq, x, rows, k, nTok);

          const out = h.storage(prior);
          h.run(
            await h.ops.matmul({ weight, x: h.storage(x), out, bias: h.storage(bias), accumulate: true }),
            {
              nTokens: nTok,
              pos: 0,
            },
          );
          const got = await h.readF32(out, nTok * rows);
          const want = ref.map((v, i) => v + (bias[i % rows] as number) + (prior[i] as number));
          expect(relL2(got, want)).toBeLessThan(1e-5);

          const last = h.storage(rows * 4);
          h.run(await h.ops.matmul({ weight, x: h.storage(x), out: last, lastToken: true, softcap: 2 }), {
            nTokens: nTok,
            pos: 0,
          });
          const gotLast = await h.readF32(last, rows);
          const wantLast = ref.slice((nTok - 1) * rows).map((v) => 2 * Math.tanh(v / 2));
          expect(relL2(gotLast, wantLast)).toBeLessThan(1e-5);
        },
      );
    });

    // Q2_K moves 4 bytes (d and dmin) per block to the aux region, the others 2.
    it.each([GgmlType.Q8_0, GgmlType.Q6_K, GgmlType.Q2_K])(
      'weights split across bindings (%s) give the same products and lookups',
      async (type) => {
        const rows = 45;
        const k = 256;
        const { bytes, deq } = randomWeight(type, rows, k, 99);
        // Parts of at most 16 rows: three bindings, the last one partial.
        const rowBytes = bytes.byteLength / rows;
        const weight = uploadWeight(h.device, 'split', type, bytes, rows, k, 16 * (rowBytes + 2));
        expect(weight.parts.map((p) => p.rows)).toEqual([16, 16, 13]);
        const x = randn(2 * k, rng(5));
        const out = h.storage(2 * rows * 4);
        h.run(await h.ops.matmul({ weight, x: h.storage(x), out }), { nTokens: 2, pos: 0 });
        expect(relL2(await h.readF32(out, 2 * rows), matmulRef(deq, x, rows, k, 2))).toBeLessThan(1e-5);
        const ids = Uint32Array.from([44, 0, 17, 31]);
        const emb = h.storage(ids.length * k * 4);
        h.run(await h.ops.embedding({ table: weight, ids: h.storage(ids), out: emb, scale: 1 }), {
          nTokens: ids.length,
          pos: 0,
        });
        const got = await h.readF32(emb, ids.length * k);
        ids.forEach((id, t) => {
          expect(relL2(got.subarray(t * k, (t + 1) * k), deq.subarray(id * k, (id + 1) * k))).toBeLessThan(
            1e-6,
          );
        });
      },
    );

    it.each(TYPES.map((t) => [GgmlType[t], t] as const))('embedding lookup %s', async (_name, type) => {
      const rows = 50;
      const k = 256;
      const { bytes, deq } = randomWeight(type, rows, k, 11 + type);
      const ids = Uint32Array.from([3, 0, 49, 3, 17]);
      const table = uploadWeight(h.device, 'emb', type, bytes, rows, k);
      const out = h.storage(ids.length * k * 4);
      h.run(await h.ops.embedding({ table, ids: h.storage(ids), out, scale: 1.5 }), {
        nTokens: ids.length,
        pos: 0,
      });
      const got = await h.readF32(out, ids.length * k);
      const want = new Float64Array(ids.length * k);
      ids.forEach((id, t) => {
        for (let i = 0; i < k; i++) want[t * k + i] = 1.5 * (deq[id * k + i] as number);
      });
      expect(relL2(got, want)).toBeLessThan(1e-6);
    });

    it.each([
      [100, 1, 3],
      [256, 1, 1],
      [40, 3, 2],
    ])('rmsnorm n=%i rowsPerToken=%i tokens=%i (plain, add, last token)', async (n, rpt, nTok) => {
      const x = randn(nTok * rpt * n, rng(n));
      const w = randn(n, rng(n + 1));
      const prior = randn(nTok * rpt * n, rng(n + 2));
      const eps = 1e-5;
      const ref = new Float64Array(nTok * rpt * n);
      for (let r = 0; r < nTok * rpt; r++) {
        let ss = 0;
        for (let i = 0; i < n; i++) ss += (x[r * n + i] as number) ** 2;
        const inv = 1 / Math.sqrt(ss / n + eps);
        for (let i = 0; i < n; i++) ref[r * n + i] = (x[r * n + i] as number) * inv * (w[i] as number);
      }
      const xb = h.storage(x);
      const wb = h.storage(w);
      const out = h.storage(x.byteLength);
      h.run(await h.ops.rmsnorm({ x: xb, weight: wb, out, n, eps, rowsPerToken: rpt }), {
        nTokens: nTok,
        pos: 0,
      });
      expect(relL2(await h.readF32(out, ref.length), ref)).toBeLessThan(1e-6);

      const acc = h.storage(prior);
      h.run(await h.ops.rmsnorm({ x: xb, weight: wb, out: acc, n, eps, rowsPerToken: rpt, add: true }), {
        nTokens: nTok,
        pos: 0,
      });
      const wantAdd = ref.map((v, i) => v + (prior[i] as number));
      expect(relL2(await h.readF32(acc, ref.length), wantAdd)).toBeLessThan(1e-6);

      const last = h.storage(rpt * n * 4);
      h.run(
        await h.ops.rmsnorm({ x: xb, weight: wb, out: last, n, eps, rowsPerToken: rpt, lastToken: true }),
        {
          nTokens: nTok,
          pos: 0,
        },
      );
      expect(relL2(await h.readF32(last, rpt * n), ref.slice((nTok - 1) * rpt * n))).toBeLessThan(1e-6);
    });

    it.each([
      [false, 16, 16],
      [true, 16, 16],
      [true, 40, 24],
      [false, 64, 32],
    ])('rope neox=%s headDim=%i nRot=%i with KV store', async (neox, hd, nRot) => {
      const nHead = 4;
      const nKv = 2;
      const nTok = 3;
      const pos = 5;
      const ctx = 16;
      const base = 10000;
      const scale = 0.5;
      const factors = Float32Array.from({ length: nRot / 2 }, (_, i) => 1 + i / nRot);
      const q = randn(nTok * nHead * hd, rng(1));
      const k = randn(nTok * nKv * hd, rng(2));
      const v = randn(nTok * nKv * hd, rng(3));
      const rot = (vec: Float32Array, off: number, p: number) => {
        const r = Float64Array.from(vec.subarray(off, off + hd));
        for (let i = 0; i < nRot / 2; i++) {
          const theta = (p * scale * base ** ((-2 * i) / nRot)) / (factors[i] as number);
          const [a, b] = neox ? [i, i + nRot / 2] : [2 * i, 2 * i + 1];
          const x0 = vec[off + a] as number;
          const x1 = vec[off + b] as number;
          r[a] = x0 * Math.cos(theta) - x1 * Math.sin(theta);
          r[b] = x0 * Math.sin(theta) + x1 * Math.cos(theta);
        }
        return r;
      };
      const qb = h.storage(q);
      const kc = h.storage(ctx * nKv * hd * 4);
      const vc = h.storage(ctx * nKv * hd * 4);
      h.run(
        await h.ops.ropeStore({
          q: qb,
          k: h.storage(k),
          v: h.storage(v),
          kCache: kc,
          vCache: vc,
          cosSin: h.storage(ropeTable({ positions: ctx, nRot, freqBase: base, freqScale: scale, factors })),
          neox,
          nHead,
          nKv,
          headDim: hd,
          nRot,
        }),
        { nTokens: nTok, pos },
      );
      const gotQ = await h.readF32(qb, q.length);
      const gotK = await h.readF32(kc, ctx * nKv * hd);
      const gotV = await h.readF32(vc, ctx * nKv * hd);
      for (let t = 0; t < nTok; t++) {
        for (let hh = 0; hh < nHead; hh++) {
          const off = (t * nHead + hh) * hd;
          expect(relL2(gotQ.subarray(off, off + hd), rot(q, off, pos + t))).toBeLessThan(1e-5);
        }
        for (let hh = 0; hh < nKv; hh++) {
          const src = (t * nKv + hh) * hd;
          const dst = ((pos + t) * nKv + hh) * hd;
          expect(relL2(gotK.subarray(dst, dst + hd), rot(k, src, pos + t))).toBeLessThan(1e-5);
          expect([...gotV.subarray(dst, dst + hd)]).toEqual([...v.subarray(src, src + hd)]);
        }
      }
    });

    it.each([false, true])('gated activation gelu=%s', async (gelu) => {
      const nFf = 100;
      const nTok = 3;
      const g = randn(nFf * nTok, rng(1), 2);
      const u = randn(nFf * nTok, rng(2));
      const want = Array.from(g, (x, i) => {
        const a = gelu
          ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * x * (1 + 0.044715 * x * x)))
          : x / (1 + Math.exp(-x));
        return a * (u[i] as number);
      });
      const out = h.storage(g.byteLength);
      h.run(await h.ops.gatedActivation({ gate: h.storage(g), up: h.storage(u), out, nFf, gelu }), {
        nTokens: nTok,
        pos: 0,
      });
      expect(relL2(await h.readF32(out, want.length), want)).toBeLessThan(1e-6);
    });

    // 40 rows: two full workgroups of 16 and a ragged one; 1 token: the decode loop (16-byte
    // half-units for Q4_K, words for Q5_1), 5: the 4-token tiles.
    it.each([
      ['Q4_K', 1],
      ['Q5_1', 1],
      ['Q4_K', 5],
    ] as const)('fused norm + gate/up + SiLU (%s, %i tokens) within 1e-5 of float64', async (name, nTok) => {
      const type = GgmlType[name];
      const rows = 40;
      const k = 256;
      const gate = randomWeight(type, rows, k, 21);
      const up = randomWeight(type, rows, k, 22);
      const x = randn(nTok * k, rng(23));
      const g = Float32Array.from(randn(k, rng(24), 0.1), (v) => v + 1);
      const [wGate, wUp] = uploadWeightGroup(h.device, 'gu', [
        { name: 'g', type, bytes: gate.bytes, rows, k },
        { name: 'u', type, bytes: up.bytes, rows, k },
      ])!;
      const out = h.storage(nTok * rows * 4);
      const glu = await h.ops.glu({
        wGate: wGate!,
        wUp: wUp!,
        x: h.storage(x),
        normWeight: uploadF32(h.device, 'g', g),
        eps: 1e-6,
        out,
        gelu: false,
      });
      h.run([glu!], { nTokens: nTok, pos: 0 });
      const want = new Float64Array(nTok * rows);
      for (let t = 0; t < nTok; t++) {
        const row = x.subarray(t * k, (t + 1) * k);
        const inv = 1 / Math.sqrt(row.reduce((a, v) => a + v * v, 0) / k + 1e-6);
        const xn = Float32Array.from(row, (v, i) => v * inv * (g[i] as number));
        const a = matmulRef(gate.deq, xn, rows, k, 1);
        const b = matmulRef(up.deq, xn, rows, k, 1);
        for (let r = 0; r < rows; r++) {
          const ar = a[r] as number;
          want[t * rows + r] = (ar / (1 + Math.exp(-ar))) * (b[r] as number);
        }
      }
      expect(relL2(await h.readF32(out, nTok * rows), want)).toBeLessThan(1e-5);
      wGate!.parts[0]!.buffer.destroy();
    });

    it('argmax picks the largest logit, lowest index on ties', async () => {
      const logits = randn(1001, rng(9));
      logits[700] = 10;
      logits[333] = 10;
      const result = h.storage(16);
      h.run(await h.ops.argmax({ logits: h.storage(logits), result, n: logits.length }), {
        nTokens: 1,
        pos: 0,
      });
      expect(new Uint32Array(await h.read(result, 4))[0]).toBe(333);
    });

    it.each([
      [1001, 40, 1.3],
      [4096, 1, 1],
      [50_000, 256, 1.1],
      [77, 77, 1],
    ])(
      'penalty + top-k over %i logits, k = %i, penalty %f (exact set, lowest ids on ties)',
      async (n, k, pen) => {
        const r = rng(n + k);
        const logits = randn(n, r);
        // Ties straddling the k-th place, and a penalised id that would otherwise lead.
        for (let i = 0; i < 6; i++) logits[(i * 97) % n] = 2.5;
        const penalised = [5 % n, 11 % n, 5 % n];
        logits[11 % n] = 9;
        const want = Float32Array.from(logits);
        for (const id of new Set(penalised)) want[id] = want[id]! > 0 ? want[id]! / pen : want[id]! * pen;
        const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => want[b]! - want[a]! || a - b);
        const ids = h.storage(Uint32Array.from(new Set(penalised)));
        const cand = h.storage(4 + 8 * k);
        const params = h.device.createBuffer({
          size: 16,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        });
        h.device.queue.writeBuffer(
          params,
          0,
          P.encodeTopKParams({ n, k, nPenalty: new Set(penalised).size, penalty: pen }),
        );
        const z = h.storage(logits);
        h.run(
          await h.ops.penaltyTopK({
            logits: z,
            penaltyIds: ids,
            candidates: cand,
            params,
            maxPenaltyIds: 64,
          }),
          {
            nTokens: 1,
            pos: 0,
          },
        );
        const out = new Uint32Array(await h.read(cand, 4 + 8 * k));
        expect(out[0]).toBe(k);
        const got: [number, number][] = [];
        for (let i = 0; i < k; i++)
          got.push([out[1 + 2 * i]!, new Float32Array(out.buffer, 4 * (2 + 2 * i), 1)[0]!]);
        got.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
        expect(got.map(([id]) => id)).toEqual(order.slice(0, k));
        for (const [id, v] of got) expect(v).toBe(want[id]);
        params.destroy();
      },
    );
  });
}

/**
 * Subgroups wider than the workgroup (Adreno's 128 lanes against the matrix kernels' 64
 * invocations): SwiftShader's subgroups are 4 wide, so a 2-invocation matrix workgroup puts one
 * partly filled subgroup in each workgroup. Before the guard the row loop advanced by
 * WG_SIZE / sg_size = 0 and never ended, and lanes strode by the subgroup width, skipping units.
 */
describe('matmul with subgroups wider than the workgroup', () => {
  let h: GpuHarness;
  beforeAll(async () => {
    h = await GpuHarness.create({ subgroups: true, matrixWorkgroupSize: 2 });
    const info = (h.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo;
    expect(info?.subgroupMinSize).toBeGreaterThan(2);
  });
  afterAll(() => h.destroy());

  it.each([1, 5])('Q8_0 rows=37 k=256 tokens=%i', async (nTok) => {
    const rows = 37;
    const k = 256;
    const { bytes, deq } = randomWeight(GgmlType.Q8_0, rows, k, 21);
    const x = randn(nTok * k, rng(nTok));
    const weight = uploadWeight(h.device, 'w', GgmlType.Q8_0, bytes, rows, k);
    const out = h.storage(nTok * rows * 4);
    h.run(await h.ops.matmul({ weight, x: h.storage(x), out }), { nTokens: nTok, pos: 0 });
    expect(relL2(await h.readF32(out, nTok * rows), matmulRef(deq, x, rows, k, nTok))).toBeLessThan(1e-5);
    weight.parts.forEach((p) => p.buffer.destroy());
  });
});

describe('subgroup row loops in every kernel source', () => {
  // The dispatch above covers matmul; qkv and glu share the loop, so every kernel that divides the
  // workgroup by the subgroup size to step its row loop must keep the step at least 1.
  const sources = { ...kernelFamilies, ...wgslIncludes } as Record<string, string>;
  it('the check below sees the row loops of matmul, qkv and glu', () => {
    for (const name of ['matmul', 'qkv', 'glu']) expect(sources[name]).toMatch(/WG_SIZE \/ sg_size/);
  });
  it.each(Object.keys(sources))('%s', (name) => {
    const src = sources[name] as string;
    for (const m of src.matchAll(/let (\w+) = ([^;]*WG_SIZE \/ sg_size[^;]*);/g)) {
      const [, variable, expr] = m;
      // A row-loop step must be max(1u, …); a ceil(WG_SIZE / sg_size) count is already ≥ 1.
      const ceil = /\(WG_SIZE \+ sg_size - 1u\) \/ sg_size/.test(expr as string);
      if (!ceil) expect(expr, `${name}: ${variable}`).toMatch(/^max\(1u, WG_SIZE \/ sg_size\)$/);
    }
    // Lanes stride a row by the active lanes, never by a subgroup width the workgroup may not fill.
    expect(src).not.toMatch(/row_partials\([^;]*sg_lane, sg_size/);
  });
});
