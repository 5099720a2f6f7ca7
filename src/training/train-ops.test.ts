import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as T from './train-ops.ts';

/** Byte size of a WGSL struct whose fields are all 4-byte scalars, rounded as a uniform. */
function wgslStructBytes(file: string, struct: string): number {
  const src = readFileSync(new URL(`../../wgsl/${file}`, import.meta.url), 'utf8');
  const m = new RegExp(`struct ${struct} \\{([^}]*)\\}`).exec(src);
  if (!m?.[1]) throw new Error(`struct ${struct} not found in ${file}`);
  const fields = m[1].split('\n').filter((l) => /^\s*\w+\s*:\s*(u32|f32|i32)\s*,/.test(l));
  return Math.ceil((fields.length * 4) / 16) * 16;
}

describe('training uniform encoders match their WGSL structs', () => {
  const cases: [string, string, ArrayBuffer][] = [
    [
      'gemm.wgsl',
      'GemmParams',
      T.encodeGemmParams({
        m: 1,
        n: 1,
        k: 1,
        lda: 1,
        ldb: 1,
        ldc: 1,
        transA: false,
        transB: false,
        alpha: 1,
        beta: 0,
        tokensDim: 'none',
      }),
    ],
    [
      'matmul-backward.wgsl',
      'MatmulBackParams',
      T.encodeMatmulBackParams({
        k: 32,
        rows: 1,
        rowOffset: 0,
        aux: 0,
        dyStride: 1,
        dxStride: 32,
        accumulate: false,
      }),
    ],
    ['norm-backward.wgsl', 'NormParams', T.encodeNormBackParams({ n: 1, rowsPerToken: 1, eps: 1e-5 })],
    ['activation-backward.wgsl', 'ActParams', T.encodeActBackParams({ nFf: 1 })],
    ['rope-backward.wgsl', 'RopeParams', T.encodeRopeBackParams({ nHead: 1, nKv: 1, headDim: 2, nRot: 2 })],
    [
      'attention-backward.wgsl',
      'AttnBackParams',
      T.encodeAttnBackParams({ nHead: 1, nKv: 1, headDim: 1, seq: 1, scale: 1 }),
    ],
    ['loss.wgsl', 'LossParams', T.encodeLossParams({ nVocab: 1 })],
    [
      'optimizer.wgsl',
      'AdamParams',
      T.encodeAdamParams({
        n: 1,
        gridX: 1,
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0,
        biasCorrection1: 0.1,
        biasCorrection2: 0.001,
        mu: 0,
      }),
    ],
  ];
  it.each(cases)('%s %s', (file, struct, buf) => {
    expect(buf.byteLength).toBe(wgslStructBytes(file, struct));
  });

  it('puts the gemm scalars where the struct has them', () => {
    const v = new DataView(
      T.encodeGemmParams({
        m: 3,
        n: 5,
        k: 7,
        lda: 7,
        ldb: 5,
        ldc: 5,
        transA: true,
        transB: false,
        alpha: 0.5,
        beta: 1,
        tokensDim: 'k',
      }),
    );
    expect([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true)]).toEqual([3, 5, 7]);
    expect(v.getUint32(24, true)).toBe(1);
    expect(v.getFloat32(32, true)).toBe(0.5);
    expect(v.getUint32(40, true)).toBe(3);
  });
});
