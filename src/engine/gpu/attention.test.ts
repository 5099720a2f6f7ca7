/**
 * The attention kernels (split-KV decode + combine, tiled prefill) against a float64 CPU reference:
 * GQA ratios 1/2/7, contexts of 1, 7, 65 and 300 positions, soft-cap and sliding window, f32 and
 * f16 caches; plus one long context (2048+ positions) where every split is in use.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuHarness, randn, relL2, rng } from '../../testing/gpu-harness.ts';
import { partialsBytes, splitCount } from './attention-plan.ts';
import { f16BitsToF32, f32ToF16Bits } from '../gguf/quant/half.ts';

interface Case {
  nHead: number;
  nKv: number;
  hd: number;
  /** Position of the step's first token; the context is pos + nTok positions. */
  pos: number;
  nTok: number;
  softcap: number;
  window: number;
}

function reference(c: Case, q: Float32Array, kc: Float32Array, vc: Float32Array): Float64Array {
  const { nHead, nKv, hd, pos, nTok, softcap, window } = c;
  const scale = 1 / Math.sqrt(hd);
  const want = new Float64Array(nTok * nHead * hd);
  for (let t = 0; t < nTok; t++)
    for (let h = 0; h < nHead; h++) {
      const kvh = Math.floor(h / (nHead / nKv));
      const p = pos + t;
      const first = window > 0 ? Math.max(0, p - window + 1) : 0;
      const scores: number[] = [];
      for (let j = first; j <= p; j++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[(t * nHead + h) * hd + d]! * kc[(j * nKv + kvh) * hd + d]!;
        s *= scale;
        if (softcap > 0) s = softcap * Math.tanh(s / softcap);
        scores.push(s);
      }
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        e.forEach((w, jj) => (acc += w * vc[((first + jj) * nKv + kvh) * hd + d]!));
        want[(t * nHead + h) * hd + d] = acc / sum;
      }
    }
  return want;
}

/** f16-rounded copy and the packed cache words the f16 kernels read (low half first). */
function toF16(x: Float32Array): { rounded: Float32Array; packed: Uint16Array } {
  const packed = new Uint16Array(x.length + (x.length % 2));
  x.forEach((v, i) => (packed[i] = f32ToF16Bits(v)));
  return { rounded: Float32Array.from(x, (_, i) => f16BitsToF32(packed[i]!)), packed };
}

describe('attention kernels', () => {
  let h: GpuHarness;
  beforeAll(async () => {
    h = await GpuHarness.create({ subgroups: false });
  });
  afterAll(() => h.destroy());

  /** Runs one step on `path`; `ctx` sizes the cache (and so the split count). */
  async function run(c: Case, path: 'split' | 'tiled', kvF16: boolean, ctx = c.pos + c.nTok) {
    const seed = c.hd * 1000 + c.pos * 10 + c.nHead;
    const q = randn(c.nTok * c.nHead * c.hd, rng(seed));
    const kc = randn(ctx * c.nKv * c.hd, rng(seed + 1));
    const vc = randn(ctx * c.nKv * c.hd, rng(seed + 2));
    const k16 = kvF16 ? toF16(kc) : undefined;
    const v16 = kvF16 ? toF16(vc) : undefined;
    // The reference sees what the cache holds: f16-rounded keys and values on the f16 path.
    const want = reference(c, q, k16?.rounded ?? kc, v16?.rounded ?? vc);
    const out = h.storage(want.length * 4);
    const shape = { nHead: c.nHead, nKv: c.nKv, headDim: c.hd, contextLength: ctx };
    const dispatches = await h.ops.attention({
      q: h.storage(q),
      kCache: h.storage(k16?.packed ?? kc),
      vCache: h.storage(v16?.packed ?? vc),
      out,
      nHead: c.nHead,
      nKv: c.nKv,
      headDim: c.hd,
      scale: 1 / Math.sqrt(c.hd),
      softcap: c.softcap,
      window: c.window,
      kvF16,
      ...(path === 'split' ? { partials: h.storage(partialsBytes(shape)) } : { splitMaxTokens: 0 }),
    });
    h.run(dispatches, { nTokens: c.nTok, pos: c.pos });
    return { err: relL2(await h.readF32(out, want.length), want), nSplit: splitCount(shape) };
  }

  // Few distinct head sizes and group widths: each is a shader variant to compile.
  const cases: Case[] = [
    // contexts 1, 7, 65, 300 × GQA ratios 1, 2, 7
    { nHead: 2, nKv: 2, hd: 16, pos: 0, nTok: 1, softcap: 0, window: 0 },
    { nHead: 4, nKv: 2, hd: 16, pos: 6, nTok: 1, softcap: 0, window: 0 },
    { nHead: 14, nKv: 2, hd: 16, pos: 64, nTok: 1, softcap: 0, window: 0 },
    { nHead: 7, nKv: 1, hd: 16, pos: 299, nTok: 1, softcap: 0, window: 0 },
    // head dim above the workgroup width (two dims per thread), several tokens
    { nHead: 2, nKv: 2, hd: 128, pos: 297, nTok: 3, softcap: 0, window: 0 },
    // soft-cap; sliding windows smaller than a split chunk, and than a prefill tile
    { nHead: 4, nKv: 2, hd: 16, pos: 60, nTok: 2, softcap: 5, window: 0 },
    { nHead: 4, nKv: 2, hd: 16, pos: 60, nTok: 5, softcap: 5, window: 0 },
    { nHead: 14, nKv: 2, hd: 16, pos: 290, nTok: 2, softcap: 0, window: 70 },
    { nHead: 4, nKv: 2, hd: 16, pos: 40, nTok: 9, softcap: 0, window: 3 },
    // prefill from position 0 with a tile boundary inside the batch
    { nHead: 14, nKv: 2, hd: 16, pos: 0, nTok: 21, softcap: 0, window: 0 },
  ];
  const label = (c: Case) =>
    `heads ${c.nHead}/${c.nKv} hd=${c.hd} ctx=${c.pos + c.nTok} tokens=${c.nTok} softcap=${c.softcap} window=${c.window}`;

  for (const c of cases) {
    const paths = c.nTok <= 4 ? (['split', 'tiled'] as const) : (['tiled'] as const);
    for (const path of paths)
      it(`${path}: ${label(c)}`, async () => {
        expect((await run(c, path, false)).err).toBeLessThan(1e-5);
      });
  }

  // f16 cache: the kernels agree with float64 on the f16-rounded cache to f32 accuracy; what the
  // rounding itself costs against the f32 cache is measured in engine.test.ts ('f16 KV cache').
  it.each(['split', 'tiled'] as const)('%s reads the packed f16 cache', async (path) => {
    const c = { nHead: 14, nKv: 2, hd: 16, pos: 129, nTok: 2, softcap: 0, window: 0 };
    expect((await run(c, path, true)).err).toBeLessThan(1e-5);
  });

  it('split reads an odd head dim from the packed f16 cache (rows start mid-word)', async () => {
    const c = { nHead: 4, nKv: 2, hd: 15, pos: 70, nTok: 1, softcap: 0, window: 0 };
    expect((await run(c, 'split', true)).err).toBeLessThan(1e-5);
  });

  it('splits a long context over every split workgroup and stays exact', async () => {
    // 2100 positions, tiny heads: 33 chunks of 64 keys, one per split workgroup.
    const c = { nHead: 4, nKv: 2, hd: 16, pos: 2099, nTok: 1, softcap: 0, window: 0 };
    const { err, nSplit } = await run(c, 'split', false);
    expect(nSplit).toBe(33);
    expect(err).toBeLessThan(1e-4);
  });

  it('a short step in a long cache uses only the splits its context fills', async () => {
    // Cache sized for 4096 positions (64 splits); the step attends to 100 (2 chunks).
    const c = { nHead: 4, nKv: 2, hd: 16, pos: 99, nTok: 1, softcap: 0, window: 0 };
    const { err, nSplit } = await run(c, 'split', false, 4096);
    expect(nSplit).toBe(64);
    expect(err).toBeLessThan(1e-5);
  });
});
