/** The structural arithmetic behind bench/README.md's kernel table, checked on hand-sized cases. */
import { describe, expect, it } from 'vitest';
import {
  gemvDecode,
  qwen25_1_5b,
  registerTileDecode,
  registerTilePrefill,
  tiledGemmPrefill,
  type ModelShape,
} from './kernel-structure.ts';
import { gemvShape, matmulKernelFor } from './matmul-shape.ts';

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
  });
});
