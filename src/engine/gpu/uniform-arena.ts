/**
 * Uniform parameters live in a few large buffers with aligned slots, written once when a model's
 * dispatches are built — never a buffer per dispatch, and nothing allocated per token.
 */
const SLOTS_PER_CHUNK = 128;

export class UniformArena {
  readonly #device: GPUDevice;
  readonly #align: number;
  readonly #chunks: GPUBuffer[] = [];
  #used = SLOTS_PER_CHUNK; // forces a chunk on first use

  constructor(device: GPUDevice) {
    this.#device = device;
    this.#align = Math.max(256, device.limits.minUniformBufferOffsetAlignment);
  }

  /** Stores `data` (≤ one slot) and returns a binding for it. */
  add(data: ArrayBuffer): GPUBufferBinding {
    if (data.byteLength > this.#align)
      throw new RangeError(`uniform of ${data.byteLength} bytes exceeds a slot`);
    if (this.#used === SLOTS_PER_CHUNK) {
      this.#chunks.push(
        this.#device.createBuffer({
          label: `uniform-arena-${this.#chunks.length}`,
          size: this.#align * SLOTS_PER_CHUNK,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        }),
      );
      this.#used = 0;
    }
    const buffer = this.#chunks.at(-1) as GPUBuffer;
    const offset = this.#used++ * this.#align;
    this.#device.queue.writeBuffer(buffer, offset, data);
    return { buffer, offset, size: data.byteLength };
  }

  get bytes(): number {
    return this.#chunks.length * this.#align * SLOTS_PER_CHUNK;
  }

  destroy(): void {
    for (const c of this.#chunks) c.destroy();
    this.#chunks.length = 0;
    this.#used = SLOTS_PER_CHUNK;
  }
}
