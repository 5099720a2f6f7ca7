import { describe, expect, it } from 'vitest';
import { BoundedFiles } from './bounded-files.ts';
import { weightedMeanInto } from './math.ts';
import { streamWeightedMean } from './streaming-mean.ts';

// prepare: 50 updates of two tensors (7 and 5 values), each a pseudo-random vector, weights 1…50
const N = 50;
const trained = [
  { name: 'a', shape: [7] },
  { name: 'b', shape: [5] },
];
const values = (k: number, name: string, n: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(k * 31 + i * 7 + name.length) * (k + 1));

describe('streamWeightedMean', () => {
  it('equals the all-at-once weighted mean bit for bit, opening each file once and at most `concurrency` at a time', async () => {
    let openNow = 0;
    let peakOpen = 0;
    const files = new BoundedFiles(async (k) => {
      openNow++;
      peakOpen = Math.max(peakOpen, openNow);
      return {
        read: (name: string, start: number, count: number) =>
          values(k, name, name === 'a' ? 7 : 5).slice(start, start + count),
        close: async () => void openNow--,
      };
    }, 4);
    const updates = Array.from({ length: N }, (_, k) => ({
      weight: k + 1,
      readSlice: (name: string, start: number, count: number) =>
        files.use(k, async (f) => f.read(name, start, count)),
    }));
    const mean = await streamWeightedMean(trained, updates, { chunk: 3, concurrency: 4 });
    await files.closeAll();
    for (const { name, shape } of trained) {
      const expected = new Float32Array(shape[0]!);
      weightedMeanInto(
        expected,
        updates.map((_, k) => values(k, name, shape[0]!)),
        updates.map((u) => u.weight),
      );
      expect(Array.from(mean.get(name)!)).toEqual(Array.from(expected));
    }
    expect(files.opens).toBe(N); // coordinate-major reading reopened every file per chunk
    expect(peakOpen).toBeLessThanOrEqual(4);
  });

  it('refuses no updates and weights that sum to nothing', async () => {
    await expect(streamWeightedMean(trained, [], { chunk: 3, concurrency: 2 })).rejects.toThrow(RangeError);
    const zero = { weight: 0, readSlice: async () => new Float32Array(7) };
    await expect(streamWeightedMean(trained, [zero], { chunk: 3, concurrency: 2 })).rejects.toThrow(
      RangeError,
    );
  });
});
