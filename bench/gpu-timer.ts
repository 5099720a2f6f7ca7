/**
 * GPU time of a compute pass from `timestamp-query` when the device has it, else wall time around
 * submit + onSubmittedWorkDone (labelled as such in results).
 */
export class GpuTimer {
  readonly hasTimestamps: boolean;
  readonly #qs?: GPUQuerySet;
  readonly #resolve?: GPUBuffer;
  readonly #read?: GPUBuffer;

  constructor(readonly device: GPUDevice) {
    this.hasTimestamps = device.features.has('timestamp-query');
    if (this.hasTimestamps) {
      this.#qs = device.createQuerySet({ type: 'timestamp', count: 2 });
      this.#resolve = device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
      this.#read = device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
    }
  }

  /** Milliseconds of GPU time for the pass that `record` fills. */
  async time(record: (pass: GPUComputePassEncoder) => void): Promise<number> {
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass(
      this.#qs
        ? { timestampWrites: { querySet: this.#qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }
        : {},
    );
    record(pass);
    pass.end();
    if (this.#qs && this.#resolve && this.#read) {
      enc.resolveQuerySet(this.#qs, 0, 2, this.#resolve, 0);
      enc.copyBufferToBuffer(this.#resolve, 0, this.#read, 0, 16);
      this.device.queue.submit([enc.finish()]);
      await this.#read.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(this.#read.getMappedRange().slice(0));
      this.#read.unmap();
      return Number((t[1] as bigint) - (t[0] as bigint)) / 1e6;
    }
    const t0 = performance.now();
    this.device.queue.submit([enc.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
