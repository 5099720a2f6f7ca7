/**
 * The attention layout's arithmetic, and the structural figures bench/README.md quotes for a
 * Qwen2.5-1.5B layer (12 query heads, 2 KV heads, head dim 128) at 4k context with the f16 cache.
 */
import { describe, expect, it } from 'vitest';
import {
  activeSplits,
  decodeFigures,
  headBlocks,
  prefillFigures,
  prefillTile,
  SPLIT_CHUNK,
  splitCount,
  tiledSharedBytes,
} from './attention-plan.ts';

const QWEN_1_5B = { nHead: 12, nKv: 2, headDim: 128, contextLength: 4096, kvElem: 2 };

describe('attention plan', () => {
  it('every chunk of the context belongs to exactly one used split (as the kernel assigns them)', () => {
    for (const nSplit of [1, 3, 33, 64])
      for (const len of [1, 63, 64, 65, 300, 2100, 4096]) {
        const chunks = Math.ceil(len / SPLIT_CHUNK);
        const perSplit = Math.ceil(chunks / Math.min(nSplit, chunks));
        const owner: number[] = [];
        for (let s = 0; s < nSplit; s++)
          for (let c = s * perSplit; c < Math.min((s + 1) * perSplit, chunks); c++) owner.push(s);
        expect(owner).toHaveLength(chunks);
        const used = activeSplits(nSplit, len);
        expect(new Set(owner).size).toBe(used);
        expect(used).toBeLessThanOrEqual(nSplit);
      }
  });

  it('blocks query heads of a KV group by at most 8, evenly', () => {
    expect(headBlocks({ nHead: 12, nKv: 2 })).toEqual({ group: 6, blocks: 1 });
    expect(headBlocks({ nHead: 14, nKv: 2 })).toEqual({ group: 7, blocks: 1 });
    expect(headBlocks({ nHead: 32, nKv: 2 })).toEqual({ group: 8, blocks: 2 });
    expect(headBlocks({ nHead: 71, nKv: 1 })).toEqual({ group: 8, blocks: 9 });
  });

  it('splits toward 128 workgroups, never more than the cache has chunks', () => {
    expect(splitCount(QWEN_1_5B)).toBe(64);
    expect(splitCount({ ...QWEN_1_5B, contextLength: 256 })).toBe(4);
    expect(splitCount({ nHead: 32, nKv: 8, headDim: 128, contextLength: 8192 })).toBe(16);
  });

  it('prefill tiles fit the 16 KiB of workgroup memory every device has', () => {
    for (const hd of [16, 64, 80, 128, 256])
      expect(tiledSharedBytes(hd, prefillTile(hd))).toBeLessThanOrEqual(16384);
    expect([64, 128, 256].map(prefillTile)).toEqual([16, 8, 4]);
  });

  it('Qwen2.5-1.5B decode at 4k: split-KV reads 1.19× the minimum K/V bytes, the per-head kernel 6×', () => {
    const old = decodeFigures(QWEN_1_5B, 4096, 'per-head');
    const now = decodeFigures(QWEN_1_5B, 4096, 'split');
    expect(old.minBytes).toBe(4 * 1024 * 1024); // 2 (K,V) × 2 heads × 4096 × 128 × 2 bytes
    expect(old.bytesRead / old.minBytes).toBe(6);
    // Each K/V row once per group; the rest is the partials (12 heads × 64 splits × 130 floats, ×2).
    expect(now.bytesRead - now.minBytes).toBe(2 * 12 * 64 * 130 * 4);
    expect(now.bytesRead / now.minBytes).toBeCloseTo(1.19, 2);
    expect([old.workgroups, now.workgroups]).toEqual([12, 2 * 64 + 12]);
    expect([old.sharedBytes, now.sharedBytes]).toEqual([1536, 4888]);
  });

  it('Qwen2.5-1.5B prefill chunk of 64 at 4k: the tiled kernel reads K/V 8× less than per token', () => {
    const old = prefillFigures(QWEN_1_5B, 4096, 64, 'per-head');
    const now = prefillFigures(QWEN_1_5B, 4096, 64, 'tiled');
    expect(old.bytesRead / now.bytesRead).toBeCloseTo(8, 1);
    expect([old.workgroups, now.workgroups]).toEqual([768, 96]);
    expect(now.sharedBytes).toBe(12576);
  });
});
