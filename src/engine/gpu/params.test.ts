import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as P from './params.ts';

/** Byte size of a WGSL struct whose fields are all 4-byte scalars, rounded as a uniform. */
function wgslStructBytes(file: string, struct: string): number {
  const src = readFileSync(new URL(`../../../wgsl/${file}`, import.meta.url), 'utf8');
  const m = new RegExp(`struct ${struct} \\{([^}]*)\\}`).exec(src);
  if (!m?.[1]) throw new Error(`struct ${struct} not found in ${file}`);
  const fields = m[1].split('\n').filter((l) => /^\s*\w+\s*:\s*(u32|f32|i32)\s*,/.test(l));
  return Math.ceil((fields.length * 4) / 16) * 16;
}

describe('uniform encoders match their WGSL structs', () => {
  const cases: [string, string, ArrayBuffer][] = [
    [
      'matmul-io.wgsl',
      'MatmulParams',
      P.encodeMatmulParams({
        k: 1,
        rows: 1,
        rowOffset: 0,
        aux: 0,
        outStride: 1,
        gridX: 1,
        lastToken: false,
        softcap: 0,
      }),
    ],
    [
      'embedding.wgsl',
      'EmbedParams',
      P.encodeEmbedParams({ k: 32, rows: 1, aux: 0, scale: 1, rowOffset: 0 }),
    ],
    ['norm.wgsl', 'NormParams', P.encodeNormParams({ n: 1, rowsPerToken: 1, eps: 1e-5 })],
    ['rope.wgsl', 'RopeParams', P.encodeRopeParams({ nHead: 1, nKv: 1, headDim: 2, nRot: 2 })],
    [
      'attention.wgsl',
      'AttnParams',
      P.encodeAttnParams({ nHead: 1, nKv: 1, headDim: 1, window: 0, scale: 1, softcap: 0 }),
    ],
    [
      'qkv.wgsl',
      'QkvParams',
      P.encodeQkvParams({
        k: 32,
        nHead: 1,
        nKv: 1,
        headDim: 2,
        nRot: 2,
        bases: [0, 0, 0],
        auxes: [0, 0, 0],
        biasOff: 0,
        qNormOff: 0,
        kNormOff: 0,
        eps: 1e-6,
      }),
    ],
    [
      'glu.wgsl',
      'GluParams',
      P.encodeGluParams({
        k: 32,
        rows: 1,
        gateBase: 0,
        upBase: 0,
        gateAux: 0,
        upAux: 0,
        gridX: 1,
        eps: 1e-6,
      }),
    ],
    ['activation.wgsl', 'ActParams', P.encodeActParams({ nFf: 1 })],
    ['sampling.wgsl', 'ArgmaxParams', P.encodeArgmaxParams({ n: 1 })],
    ['sampling.wgsl', 'TopKParams', P.encodeTopKParams({ n: 1, k: 1, nPenalty: 0, penalty: 1 })],
    [
      'sampling.wgsl',
      'DrawParams',
      P.encodeDrawParams({ greedy: false, temperature: 1, topP: 1, minP: 0, rand: 0.5 }),
    ],
    ['step.wgsl', 'Step', P.encodeStep({ nTokens: 1, pos: 0 })],
  ];
  it.each(cases)('%s %s', (file, struct, buf) => {
    expect(buf.byteLength).toBe(wgslStructBytes(file, struct));
  });

  it('puts floats where the struct has f32 fields', () => {
    const v = new DataView(P.encodeNormParams({ n: 7, rowsPerToken: 2, eps: 1e-6 }));
    expect(v.getUint32(0, true)).toBe(7);
    expect(v.getFloat32(8, true)).toBeCloseTo(1e-6, 12);
  });
});
