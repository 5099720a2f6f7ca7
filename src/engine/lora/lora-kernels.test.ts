/**
 * The LoRA shrink/expand kernels against a float64 CPU reference, with odd shapes (input lengths
 * that are not multiples of 4 or 32, ranks that are not powers of two), several tokens, and both
 * reduction paths; and the uniform encoder against its WGSL struct.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeLoraParams } from '../gpu/params.ts';
import { GpuHarness, randn, relL2, rng } from '../../testing/gpu-harness.ts';

function reference(
  a: Float32Array,
  b: Float32Array,
  x: Float32Array,
  base: Float32Array,
  n: number,
  k: number,
  r: number,
  m: number,
): Float64Array {
  const out = Float64Array.from(base);
  for (let t = 0; t < n; t++) {
    const mid = new Float64Array(r);
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += a[j * k + i]! * x[t * k + i]!;
      mid[j] = s;
    }
    for (let o = 0; o < m; o++) {
      let s = 0;
      for (let j = 0; j < r; j++) s += b[o * r + j]! * mid[j]!;
      out[t * m + o] = out[t * m + o]! + s;
    }
  }
  return out;
}

describe('lora kernels vs CPU float64', () => {
  const harnesses: GpuHarness[] = [];
  afterAll(() => harnesses.forEach((h) => h.destroy()));

  const shapes: [number, number, number, number][] = [
    // tokens, in, rank, out
    [1, 256, 8, 512],
    [5, 37, 3, 70],
    [7, 1000, 13, 65],
    [16, 96, 1, 1],
  ];
  for (const subgroups of [false, true]) {
    for (const [n, k, r, m] of shapes) {
      it(`${subgroups ? 'subgroups' : 'workgroup'}: ${n} tokens, in ${k}, rank ${r}, out ${m}`, async () => {
        const h = await GpuHarness.create({ subgroups });
        harnesses.push(h);
        const rand = rng(k * 31 + r * 7 + m);
        const a = randn(r * k, rand, 1 / Math.sqrt(k));
        const b = randn(m * r, rand, 0.5);
        const x = randn(n * k, rand);
        const base = randn(n * m, rand);
        const out = h.storage(base);
        const ds = await h.ops.lora({
          a: h.storage(a),
          b: h.storage(b),
          x: h.storage(x),
          tmp: h.storage(n * r * 4),
          out,
          inFeatures: k,
          outFeatures: m,
          rank: r,
        });
        h.run(ds, { nTokens: n, pos: 0 });
        const got = await h.readF32(out, n * m);
        const want = reference(a, b, x, base, n, k, r, m);
        // The added term alone must be right, not just swamped by the base values.
        const gotTerm = got.map((v, i) => v - base[i]!);
        const wantTerm = want.map((v, i) => v - base[i]!);
        expect(relL2(gotTerm, wantTerm)).toBeLessThan(1e-5);
        expect(relL2(got, want)).toBeLessThan(1e-6);
      });
    }
  }

  it('LoraParams encoder matches the WGSL struct size and order', () => {
    const src = readFileSync(new URL('../../../wgsl/lora.wgsl', import.meta.url), 'utf8');
    const body = /struct LoraParams \{([^}]*)\}/.exec(src)?.[1] ?? '';
    const fields = body.split('\n').filter((l) => /^\s*\w+\s*:\s*(u32|f32)\s*,/.test(l));
    const buf = encodeLoraParams({ inFeatures: 3, rank: 5, outFeatures: 7 });
    expect(buf.byteLength).toBe(Math.ceil((fields.length * 4) / 16) * 16);
    expect([...new Uint32Array(buf)].slice(0, 3)).toEqual([3, 5, 7]);
    expect(fields[0]).toMatch(/in_features/);
    expect(fields[1]).toMatch(/rank/);
    expect(fields[2]).toMatch(/out_features/);
  });
});
