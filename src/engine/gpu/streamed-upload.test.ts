import { describe, expect, it } from 'vitest';
import { GgmlType } from '../gguf/types.ts';
import { uploadWeight, uploadWeightGroup, type GpuWeight } from './gpu-weight.ts';
import { uploadWeightGroupStreamed, uploadWeightStreamed } from './streamed-upload.ts';
import { GPU_WEIGHT_TYPES, weightBytes } from './weight-layout.ts';

/** A device that keeps buffers as CPU bytes, so layouts can be compared without a GPU. */
function fakeDevice() {
  const contents = new Map<object, Uint8Array>();
  const device = {
    limits: { maxStorageBufferBindingSize: 1 << 30, minStorageBufferOffsetAlignment: 256 },
    createBuffer({ size }: { size: number }) {
      const b = { size, destroy() {} };
      contents.set(b, new Uint8Array(size));
      return b;
    },
    queue: {
      writeBuffer(buf: object, at: number, src: ArrayBuffer, off: number, len: number) {
        expect(at % 4).toBe(0);
        expect(len % 4).toBe(0);
        const dst = contents.get(buf)!;
        expect(at + len).toBeLessThanOrEqual(dst.byteLength);
        dst.set(new Uint8Array(src, off, len), at);
      },
    },
  } as unknown as GPUDevice;
  return { device, contents };
}

(globalThis as { GPUBufferUsage?: unknown }).GPUBufferUsage ??= { STORAGE: 128, COPY_DST: 8, COPY_SRC: 4 };

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function snapshot(w: GpuWeight, contents: Map<object, Uint8Array>) {
  return w.parts.map((p) => ({
    bytes: Array.from(contents.get(p.buffer)!.subarray(p.offset, p.offset + p.size)),
    meta: [p.offset, p.size, p.rowStart, p.rows, p.aux],
  }));
}

const K = 256;

describe('streamed upload writes the same GPU layout as a whole-tensor upload', () => {
  for (const type of GPU_WEIGHT_TYPES) {
    it(`${GgmlType[type]}: parts split at the binding limit, slices smaller than a part`, async () => {
      const rows = 37;
      const bytes = randomBytes(weightBytes(type, rows, K), type + 1);
      const reads: number[] = [];
      const read = (o: number, n: number) => {
        reads.push(n);
        return Promise.resolve(bytes.slice(o, o + n));
      };
      const rowBytes = weightBytes(type, 1, K);
      const maxBinding = 16 * (rowBytes + 2); // 16 rows a part → 3 parts
      const whole = fakeDevice();
      const a = uploadWeight(whole.device, 'w', type, bytes, rows, K, maxBinding);
      const streamed = fakeDevice();
      const b = await uploadWeightStreamed(
        streamed.device,
        'w',
        type,
        read,
        rows,
        K,
        maxBinding,
        5 * rowBytes,
      );
      expect(b.parts.length).toBe(3);
      expect(snapshot(b, streamed.contents)).toEqual(snapshot(a, whole.contents));
      expect(Math.max(...reads)).toBeLessThanOrEqual(8 * rowBytes); // bounded by the slice
    });

    it(`${GgmlType[type]}: groups share one buffer at the same offsets`, async () => {
      const rowsOf = [24, 8, 8];
      const datas = rowsOf.map((r, i) => randomBytes(weightBytes(type, r, K), 100 + i));
      const whole = fakeDevice();
      const a = uploadWeightGroup(
        whole.device,
        'g',
        datas.map((d, i) => ({ name: `m${i}`, type, bytes: d, rows: rowsOf[i]!, k: K })),
      )!;
      const streamed = fakeDevice();
      const b = (await uploadWeightGroupStreamed(
        streamed.device,
        'g',
        datas.map((d, i) => ({
          name: `m${i}`,
          type,
          rows: rowsOf[i]!,
          k: K,
          read: (o: number, n: number) => Promise.resolve(d.slice(o, o + n)),
        })),
        undefined,
        3 * weightBytes(type, 1, K),
      ))!;
      expect(b.map((w) => snapshot(w, streamed.contents))).toEqual(a.map((w) => snapshot(w, whole.contents)));
    });
  }
});
