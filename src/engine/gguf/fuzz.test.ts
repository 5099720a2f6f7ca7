import { describe, expect, it } from 'vitest';
import { DureError } from '../errors.ts';
import { dequantize } from './quant/index.ts';
import { quantize } from '../../tools/gguf/quantize.ts';
import { lcg } from '../../testing/quant-test-vectors.ts';
import { readGguf, readTensorBytes } from './reader.ts';
import { MemorySource } from './sources.ts';
import { GgmlType, GgufValueType } from './types.ts';
import { kv, writeGguf } from '../../tools/gguf/writer.ts';

/** A small but varied valid file: every value kind and several tensor types. */
function seedFile(): Uint8Array {
  const w = Array.from({ length: 512 }, (_, i) => Math.cos(i));
  return writeGguf({
    metadata: [
      ['general.architecture', kv.str('llama')],
      ['llama.block_count', kv.u32(2)],
      ['llama.rope.freq_base', kv.f32(10000)],
      ['tokenizer.ggml.tokens', kv.strs(['<s>', '가', 'Ġa', 'b'])],
      ['tokenizer.ggml.token_type', kv.i32s(new Int32Array([3, 1, 1, 1]))],
      ['tokenizer.ggml.add_bos_token', kv.bool(true)],
      ['x.u64', kv.u64(5n)],
      [
        'x.nested',
        { type: GgufValueType.ARRAY, arrayType: GgufValueType.ARRAY, value: [['a'], new Int32Array([1])] },
      ],
    ],
    tensors: [
      { name: 'q4k', dims: [256, 2], type: GgmlType.Q4_K, data: quantize(GgmlType.Q4_K, w) },
      { name: 'q6k', dims: [256], type: GgmlType.Q6_K, data: quantize(GgmlType.Q6_K, w.slice(0, 256)) },
      { name: 'q80', dims: [32, 2], type: GgmlType.Q8_0, data: quantize(GgmlType.Q8_0, w.slice(0, 64)) },
      { name: 'f16', dims: [8], type: GgmlType.F16, data: quantize(GgmlType.F16, w.slice(0, 8)) },
    ],
  });
}

type Mutation = (b: Uint8Array, rnd: () => number) => Uint8Array;
const pick = (rnd: () => number, n: number): number => Math.floor(rnd() * n);

const mutations: Mutation[] = [
  // Truncate anywhere.
  (b, rnd) => b.slice(0, pick(rnd, b.length)),
  // Flip a few random bytes.
  (b, rnd) => {
    const c = b.slice();
    if (c.length === 0) return c;
    for (let k = 1 + pick(rnd, 4); k > 0; k--) c[pick(rnd, c.length)] = pick(rnd, 256);
    return c;
  },
  // Overwrite a header field with an extreme 64-bit value (lengths and counts live there).
  (b, rnd) => {
    const c = b.slice();
    if (c.length < 8) return c;
    const at = pick(rnd, Math.min(c.length, 400) - 7);
    const values = [0xffffffffffffffffn, 1n << 63n, 1n << 32n, 0n, BigInt(pick(rnd, 1 << 20))];
    new DataView(c.buffer).setBigUint64(at, values[pick(rnd, values.length)]!, true);
    return c;
  },
  // Overwrite a 32-bit field (types, dimension counts) with a small or huge number.
  (b, rnd) => {
    const c = b.slice();
    if (c.length < 4) return c;
    const at = pick(rnd, Math.min(c.length, 400) - 3);
    new DataView(c.buffer).setUint32(at, rnd() < 0.5 ? pick(rnd, 40) : 0xffffffff, true);
    return c;
  },
  // Insert or delete a run of bytes in the header.
  (b, rnd) => {
    const at = pick(rnd, Math.min(b.length, 400));
    if (rnd() < 0.5) return new Uint8Array([...b.subarray(0, at), ...b.subarray(at + 1 + pick(rnd, 16))]);
    const ins = Array.from({ length: 1 + pick(rnd, 16) }, () => pick(rnd, 256));
    return new Uint8Array([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
  },
];

describe('fuzz: mutated and truncated GGUF files', () => {
  it('every one of 1500 either loads or raises a DureError (seeded)', async () => {
    const base = seedFile();
    const rnd = lcg(20261123);
    let loaded = 0;
    let rejected = 0;
    const codes = new Map<string, number>();
    for (let i = 0; i < 1500; i++) {
      let bytes = base;
      for (let k = 1 + pick(rnd, 3); k > 0; k--) bytes = mutations[pick(rnd, mutations.length)]!(bytes, rnd);
      try {
        const file = await readGguf(new MemorySource(bytes), { initialChunkBytes: 1 + pick(rnd, 256) });
        for (const t of file.tensors) {
          const data = await readTensorBytes(file, t);
          if (t.elements <= 1 << 16) {
            try {
              dequantize(t.type, data, t.elements);
            } catch (e) {
              if (!(e instanceof DureError)) throw e;
            }
          }
        }
        loaded++;
      } catch (e) {
        if (!(e instanceof DureError)) {
          throw new Error(`case ${i}: non-Dure exception ${String(e)}`, { cause: e });
        }
        rejected++;
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    }
    expect(loaded + rejected).toBe(1500);
    // The mutations must exercise both outcomes and several error kinds, or the test proves little.
    expect(loaded).toBeGreaterThan(50);
    expect(rejected).toBeGreaterThan(500);
    expect(codes.size).toBeGreaterThanOrEqual(5);
  });
});
