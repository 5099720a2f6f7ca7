import { describe, expect, it } from 'vitest';
import type { TrainExample } from '../../src/training/api.ts';
import { gaussian } from './model.ts';
import { bigramLogMatrix, spectralEmbeddings, truncatedSvd } from './spectral.ts';

/** A row-major n×n matrix of exact rank r with decaying singular values. */
function lowRank(n: number, r: number): Float32Array {
  const a = gaussian(n * r, 1, 3);
  const b = gaussian(r * n, 1, 4);
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += a[i * r + k]! * b[k * n + j]! * 2 ** -k;
      m[i * n + j] = s;
    }
  return m;
}

describe('truncatedSvd', () => {
  it('recovers a low-rank matrix with orthonormal factors', () => {
    const n = 48;
    const m = lowRank(n, 5);
    const { u, s, v } = truncatedSvd(m, n, 5);
    let err = 0;
    let norm = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let x = 0;
        for (let c = 0; c < 5; c++) x += u[i * 5 + c]! * s[c]! * v[j * 5 + c]!;
        err += (x - m[i * n + j]!) ** 2;
        norm += m[i * n + j]! ** 2;
      }
    expect(Math.sqrt(err / norm)).toBeLessThan(1e-4);
    for (let c = 1; c < 5; c++) expect(s[c]!).toBeLessThanOrEqual(s[c - 1]!);
    let dot = 0;
    for (let i = 0; i < n; i++) dot += u[i * 5]! * u[i * 5 + 1]!;
    expect(Math.abs(dot)).toBeLessThan(1e-6);
  });
});

describe('spectralEmbeddings', () => {
  it('makes output · rmsnorm(embd[i]) equal the factorised row', () => {
    const nVocab = 40;
    const nEmbd = 8;
    const m = lowRank(nVocab, 7);
    const svd = truncatedSvd(m, nVocab, 7);
    const { embd, output } = spectralEmbeddings(svd, nVocab, nEmbd, 3);
    for (const i of [0, 13, 39]) {
      const x = embd.subarray(i * nEmbd, (i + 1) * nEmbd);
      const rms = Math.sqrt(x.reduce((a, b) => a + b * b, 0) / nEmbd);
      expect(rms).toBeCloseTo(3, 4);
      for (const j of [1, 22]) {
        let logit = 0;
        for (let c = 0; c < nEmbd; c++) logit += output[j * nEmbd + c]! * (x[c]! / rms);
        expect(logit).toBeCloseTo(m[i * nVocab + j]!, 2);
      }
    }
    expect(() => spectralEmbeddings(svd, nVocab, 7)).toThrow(RangeError);
  });
});

describe('bigramLogMatrix', () => {
  it('ranks seen successors above unseen ones and ignores masked positions', () => {
    const ex = (ids: number[], mask: number[]): TrainExample => ({
      ids: Uint32Array.from(ids),
      lossMask: Uint8Array.from(mask),
    });
    const n = 6;
    const m = bigramLogMatrix([ex([1, 2, 1, 2, 1, 3], [0, 1, 1, 1, 1, 1]), ex([4, 5], [0, 0])], n);
    const row = (i: number) => m.subarray(i * n, (i + 1) * n);
    expect(row(1)[2]!).toBeGreaterThan(row(1)[3]!);
    expect(row(1)[3]!).toBeGreaterThan(row(1)[4]!);
    // 4 → 5 was masked out: row 4 is the (centred) unigram, so 5 is not preferred over 0.
    expect(row(4)[5]).toBeCloseTo(row(4)[0]!, 6);
    // Rows are centred.
    expect(row(1).reduce((a, b) => a + b, 0)).toBeCloseTo(0, 3);
  });
});
