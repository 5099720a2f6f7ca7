/**
 * The weighted mean of N updates in bounded batches: `concurrency` updates at a time are read
 * whole (tensor by tensor, chunk by chunk) into one float64 running sum, then the next batch.
 * Memory is one adapter-sized accumulator plus `concurrency × chunk` values in flight, and each
 * update file is opened once (the batch's files fit in ./bounded-files.ts), whatever N is. Reading
 * coordinate-major instead (every update's slice of one chunk at once) held N slices per chunk and
 * reopened every file per chunk once N exceeded the open-file bound.
 *
 * Within a batch the slices are added in update order, so the sum is the same as
 * weightedMeanInto's (./math.ts) over all updates at once, bit for bit.
 */
import type { TensorSpec } from '../../../src/protocol/lora.ts';

/** What the batcher needs of an update (a subset of strategies.ts's UpdateSource). */
export interface WeightedSlices {
  weight: number;
  readSlice(name: string, start: number, count: number): Promise<Float32Array>;
}

export interface StreamingMeanOptions {
  /** Coordinates per read. */
  chunk: number;
  /** Updates read at once (and so files open at once). */
  concurrency: number;
}

/** Σ wₖ·xₖ / Σ wₖ for every trained tensor, reading at most `concurrency` updates at a time. */
export async function streamWeightedMean(
  trained: ReadonlyArray<TensorSpec>,
  updates: ReadonlyArray<WeightedSlices>,
  opts: StreamingMeanOptions,
): Promise<Map<string, Float32Array>> {
  if (updates.length === 0) throw new RangeError('no updates to aggregate');
  if (!(opts.chunk >= 1 && opts.concurrency >= 1)) throw new RangeError('chunk and concurrency must be ≥ 1');
  const total = updates.reduce((a, u) => a + u.weight, 0);
  if (!(total > 0)) throw new RangeError('weights must sum to a positive number');
  const sizes = trained.map((s) => s.shape.reduce((a, d) => a * d, 1));
  const sums = sizes.map((n) => new Float64Array(n));
  for (let first = 0; first < updates.length; first += opts.concurrency) {
    const batch = updates.slice(first, first + opts.concurrency);
    for (const [t, spec] of trained.entries()) {
      const sum = sums[t]!;
      for (let start = 0; start < sizes[t]!; start += opts.chunk) {
        const count = Math.min(opts.chunk, sizes[t]! - start);
        const slices = await Promise.all(batch.map((u) => u.readSlice(spec.name, start, count)));
        slices.forEach((x, k) => {
          const w = batch[k]!.weight / total;
          for (let i = 0; i < count; i++) sum[start + i]! += w * x[i]!;
        });
      }
    }
  }
  return new Map(trained.map((s, t) => [s.name, Float32Array.from(sums[t]!)]));
}
