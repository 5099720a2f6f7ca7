/** The structural arithmetic behind bench/README.md's kernel table, checked on hand-sized cases. */
import { describe, expect, it } from 'vitest';
import {
  decodeStep,
  gemvDecode,
  qwen25_1_5b,
  registerTileDecode,
  registerTilePrefill,
  tiledGemmPrefill,
  type ModelShape,
} from './kernel-structure.ts';
import { gemvShape, gluRowsPerGroup, matmulKernelFor } from './matmul-shape.ts';

describe('gemvShape', () => {
  it('gives one team per row at the smallest subgroup size and enough slots for the largest', () => {
    // At least 16 rows share a staged x; a workgroup of 128 lanes has 128 / size teams.
    expect(gemvShape({ min: 32, max: 32 })).toEqual({ rows: 16, slots: 4 }); // NVIDIA, Apple
    expect(gemvShape({ min: 32, max: 64 })).toEqual({ rows: 16, slots: 8 }); // AMD RDNA
    expect(gemvShape({ min: 8, max: 32 })).toEqual({ rows: 16, slots: 4 }); // Intel
    expect(gemvShape({ min: 4, max: 4 })).toEqual({ rows: 32, slots: 1 }); // SwiftShader
    expect(gemvShape({ min: 128, max: 128 })).toEqual({ rows: 16, slots: 16 }); // one team
    expect(gemvShape(undefined)).toEqual({ rows: 16, slots: 4, team: 32 });
  });

  it('gives the fused gate/up kernel at least 16 rows per workgroup to share one norm and staged x', () => {
    // It used to take one row per subgroup: 2 rows on 32-wide subgroups, 1 on 64-wide or none.
    expect([2, 1, 16, 32].map(gluRowsPerGroup)).toEqual([16, 16, 16, 32]);
  });

  it('sends one token to the GEMV, 2–7 to the register tile, 8 and more to the tiled GEMM', () => {
    expect([1, 2, 7, 8, 64].map((n) => matmulKernelFor(n))).toEqual([
      'gemv',
      'register-tile',
      'register-tile',
      'tiled-gemm',
      'tiled-gemm',
    ]);
    expect(matmulKernelFor(64, true)).toBe('gemv');
  });
});

describe('kernel structure', () => {
  // 32 rows of 64 one-byte weights: weights 2048 B, x 256 B, out 128 B.
  const tiny: ModelShape = { bytesPerWeight: 1, matrices: [{ name: 'w', rows: 32, k: 64, count: 1 }] };
  const nvidia = { min: 32, max: 32 };

  it('counts the input re-reads of each decode kernel against the minimum', () => {
    const old = registerTileDecode(tiny, nvidia, 32);
    const min = 2048 + 256 + 128;
    // 2 rows per workgroup of 64 lanes: 16 workgroups, x read once per row.
    expect(old).toMatchObject({
      minBytes: min,
      requestedBytes: 2048 + 32 * 256 + 128,
      workgroups: 16,
      sharedBytes: 0,
    });
    const gemv = gemvDecode(tiny, nvidia, 32);
    // 16 rows per workgroup: 2 workgroups, x staged once each (16 vec4s = 256 B of workgroup memory).
    expect(gemv).toMatchObject({
      minBytes: min,
      requestedBytes: 2048 + 2 * 256 + 128,
      workgroups: 2,
      sharedBytes: 256,
    });
  });

  it('leaves lanes idle where rows follow the largest subgroup, not where they follow the smallest', () => {
    const intel = { min: 8, max: 32 };
    // Old: 64 / 32 = 2 rows for 8 subgroups of 8 (75 % idle) or 4 of 16 (50 %).
    expect(registerTileDecode(tiny, intel, 8).idleLanes).toBe(0.75);
    expect(registerTileDecode(tiny, intel, 16).idleLanes).toBe(0.5);
    expect(registerTileDecode(tiny, { min: 32, max: 64 }, 32).idleLanes).toBe(0.5);
    for (const actual of [8, 16, 32]) expect(gemvDecode(tiny, intel, actual).idleLanes).toBe(0);
    for (const actual of [32, 64]) expect(gemvDecode(tiny, { min: 32, max: 64 }, actual).idleLanes).toBe(0);
  });

  it('reads each weight once per 64-token chunk in the tiled GEMM, 16 times in the register tile', () => {
    expect(registerTilePrefill(tiny, nvidia, 64)).toEqual({
      weightReads: 16,
      workgroups: 16 * 16,
      sharedBytes: 0,
    });
    expect(tiledGemmPrefill(tiny, 64, false)).toEqual({ weightReads: 1, workgroups: 1, sharedBytes: 16384 });
    expect(tiledGemmPrefill(tiny, 65, true)).toEqual({ weightReads: 2, workgroups: 2, sharedBytes: 8192 });
  });

  it('counts a whole GPU decode step: fused q/k/v and gate/up at 2 rows per workgroup, then GEMVs and 16', () => {
    // One-byte weights, k = 64: q 8 rows (2 heads of 4), k and v 4 rows, gate and up 32 rows.
    const layer: ModelShape = {
      bytesPerWeight: 1,
      matrices: [
        { name: 'q', rows: 8, k: 64, count: 1 },
        { name: 'k', rows: 4, k: 64, count: 1 },
        { name: 'v', rows: 4, k: 64, count: 1 },
        { name: 'gate', rows: 32, k: 64, count: 1 },
        { name: 'up', rows: 32, k: 64, count: 1 },
      ],
    };
    const min = 800 + 528 + 528 + 2432 + 2432;
    // A workgroup per head (4 of them, x and the norm weight staged by each: 512 B); gate/up in 16
    // workgroups of 2 rows, each staging 512 B; 64-lane workgroups are 2 subgroups of 32.
    expect(decodeStep(layer, nvidia, 32, { gluRows: 2, fusedQkv: true, headDim: 4 })).toMatchObject({
      minBytes: min,
      requestedBytes: 512 + 2 * 512 + 32 + 2 * (256 + 512 + 16) + 2048 + 16 * 512 + 128 + 2048,
      workgroups: 4 + 16,
      minWorkgroups: 4,
      maxBytesPerSubgroup: 2 * 64, // a head's subgroup walks 2 rows, a gate/up subgroup 1 row of each
      idleLanes: 0,
    });
    // q/k/v GEMVs (16 rows per workgroup, 4 teams of 4 rows, x staged once: 256 B); gate/up in 2
    // workgroups of 16 rows, each subgroup walking 8 rows of both.
    expect(decodeStep(layer, nvidia, 32, { gluRows: 16, fusedQkv: false, headDim: 4 })).toMatchObject({
      minBytes: min,
      requestedBytes: 800 + 528 + 528 + 2048 + 2 * 512 + 128 + 2048,
      workgroups: 3 + 2,
      minWorkgroups: 1,
      maxBytesPerSubgroup: 8 * 2 * 64,
      idleLanes: 0,
    });
    // Rows sized by the largest subgroup leave Intel's SIMD8 subgroups idle: 2 rows for 8 subgroups.
    expect(
      decodeStep(layer, { min: 8, max: 32 }, 8, { gluRows: 2, fusedQkv: true, headDim: 4 }).idleLanes,
    ).toBe(0.75);
  });

  it('sizes Qwen2.5-1.5B at Q4_K: 1.54 G weights, 0.87 GB a token', () => {
    const m = qwen25_1_5b();
    const weights = m.matrices.reduce((s, x) => s + x.count * x.rows * x.k, 0);
    expect(weights).toBe(28 * (2 * 1536 * 1536 + 2 * 256 * 1536 + 3 * 8960 * 1536) + 151936 * 1536);
    const gemv = gemvDecode(m, nvidia, 32);
    expect(gemv.minBytes).toBeGreaterThan(weights * 0.5625);
    expect(gemv.minBytes).toBeLessThan(weights * 0.5625 * 1.01);
    // f32 x against 0.5625-byte weights: staged once per 16 rows it adds ~44 %; read per row, ~7×.
    expect(gemv.ratio).toBeGreaterThan(1.4);
    expect(gemv.ratio).toBeLessThan(1.5);
    expect(registerTileDecode(m, nvidia, 32).ratio).toBeGreaterThan(7);
    // The engine's GPU decode step: the fused q/k/v kernel's subgroups walked 64 rows of 864 B.
    const before = decodeStep(m, nvidia, 32, { gluRows: 2, fusedQkv: true, headDim: 128 });
    const now = decodeStep(m, nvidia, 32, { gluRows: 16, fusedQkv: false, headDim: 128 });
    expect(before.maxBytesPerSubgroup).toBe(64 * 1536 * 0.5625);
    expect(before.ratio).toBeGreaterThan(2.9);
    expect(now.ratio).toBeLessThan(1.5);
    // Now the longest walk is the down projection's: 4 rows of 8960 weights.
    expect(now.maxBytesPerSubgroup).toBe(4 * 8960 * 0.5625);
  });
});
