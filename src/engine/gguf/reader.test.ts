import { describe, expect, it } from 'vitest';
import {
  GgufBadMagicError,
  GgufInvalidError,
  GgufLimitError,
  GgufMetadataError,
  GgufReadError,
  GgufTensorOutOfBoundsError,
  GgufTruncatedError,
  GgufUnknownArchError,
  GgufUnknownTypeError,
  GgufUnsupportedVersionError,
} from './errors.ts';
import {
  architecture,
  getBool,
  getFloat,
  getInteger,
  getNumberArray,
  getString,
  getStringArray,
  getTensor,
  getU32,
} from './metadata.ts';
import { dequantize } from './quant/index.ts';
import { quantize } from '../../tools/gguf/quantize.ts';
import { readGguf, readTensorBytes } from './reader.ts';
import { BlobSource, MemorySource } from './sources.ts';
import { GgmlType, GgufValueType, type ByteSource, type GgufKv } from './types.ts';
import { kv, writeGguf, type GgufTensorInput } from '../../tools/gguf/writer.ts';

function f32Tensor(name: string, dims: number[], fill: (i: number) => number): GgufTensorInput {
  const n = dims.reduce((a, b) => a * b, 1);
  return {
    name,
    dims,
    type: GgmlType.F32,
    data: quantize(
      GgmlType.F32,
      Array.from({ length: n }, (_, i) => fill(i)),
    ),
  };
}

const everyType: [string, GgufKv][] = [
  ['t.u8', kv.u8(255)],
  ['t.i8', kv.i8(-128)],
  ['t.u16', kv.u16(65535)],
  ['t.i16', kv.i16(-32768)],
  ['t.u32', kv.u32(4294967295)],
  ['t.i32', kv.i32(-2147483648)],
  ['t.f32', kv.f32(1.5)],
  ['t.bool', kv.bool(true)],
  ['t.string', kv.str('두레 — Dure 🤝')],
  ['t.u64', kv.u64(18446744073709551615n)],
  ['t.i64', kv.i64(-9223372036854775808n)],
  ['t.f64', kv.f64(Math.PI)],
  [
    't.arr.u8',
    { type: GgufValueType.ARRAY, arrayType: GgufValueType.UINT8, value: new Uint8Array([1, 2, 3]) },
  ],
  ['t.arr.i8', { type: GgufValueType.ARRAY, arrayType: GgufValueType.INT8, value: new Int8Array([-1, 2]) }],
  [
    't.arr.u16',
    { type: GgufValueType.ARRAY, arrayType: GgufValueType.UINT16, value: new Uint16Array([7, 65535]) },
  ],
  ['t.arr.i16', { type: GgufValueType.ARRAY, arrayType: GgufValueType.INT16, value: new Int16Array([-7]) }],
  ['t.arr.u32', kv.u32s(new Uint32Array([0, 4294967295]))],
  ['t.arr.i32', kv.i32s(new Int32Array([1, -1, 3]))],
  ['t.arr.f32', kv.f32s(new Float32Array([0.25, -2]))],
  ['t.arr.bool', kv.bools([true, false, true])],
  // A leading U+FEFF is content (Gemma has a token "\uFEFF//"), not a byte-order mark to drop.
  ['t.arr.string', kv.strs(['가', '', 'Ġhello', '<|im_end|>', '\uFEFF//'])],
  [
    't.arr.u64',
    {
      type: GgufValueType.ARRAY,
      arrayType: GgufValueType.UINT64,
      value: new BigUint64Array([1n, 2n ** 63n]),
    },
  ],
  [
    't.arr.i64',
    { type: GgufValueType.ARRAY, arrayType: GgufValueType.INT64, value: new BigInt64Array([-5n]) },
  ],
  [
    't.arr.f64',
    { type: GgufValueType.ARRAY, arrayType: GgufValueType.FLOAT64, value: new Float64Array([1e300]) },
  ],
  [
    't.arr.nested',
    {
      type: GgufValueType.ARRAY,
      arrayType: GgufValueType.ARRAY,
      value: [new Int32Array([1, 2]), ['a', 'b'], new Float32Array([0.5])],
    },
  ],
  ['t.arr.empty', kv.strs([])],
];

function sample(alignment?: number): Uint8Array {
  const q = Array.from({ length: 512 }, (_, i) => Math.sin(i) * 0.1);
  return writeGguf({
    metadata: [['general.architecture', kv.str('llama')], ...everyType],
    tensors: [
      f32Tensor('a', [3, 2], (i) => i + 0.5),
      { name: 'q', dims: [256, 2], type: GgmlType.Q4_K, data: quantize(GgmlType.Q4_K, q) },
      f32Tensor('b', [5], (i) => -i),
    ],
    ...(alignment ? { alignment } : {}),
  });
}

/** A source that records every range read. */
class CountingSource implements ByteSource {
  reads: [number, number][] = [];
  readonly size: number;
  constructor(private readonly inner: ByteSource) {
    this.size = inner.size;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.reads.push([offset, length]);
    return this.inner.read(offset, length);
  }
}

describe('readGguf ↔ writeGguf', () => {
  it('round-trips every metadata value type, keeping declared types and order', async () => {
    const file = await readGguf(new MemorySource(sample()));
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(32);
    const keys = [...file.metadata.keys()];
    expect(keys).toEqual(['general.architecture', ...everyType.map(([k]) => k)]);
    for (const [k, want] of everyType) {
      const got = file.metadata.get(k)!;
      expect(got.type, k).toBe(want.type);
      expect(got.arrayType, k).toBe(want.arrayType);
      if (want.type === GgufValueType.FLOAT32) expect(got.value).toBe(Math.fround(want.value as number));
      else expect(got.value, k).toEqual(want.value);
    }
    // Writing what we read gives the same bytes back.
    const again = writeGguf({
      metadata: file.metadata,
      tensors: await Promise.all(
        file.tensors.map(async (t) => ({ ...t, data: await readTensorBytes(file, t) })),
      ),
    });
    expect(again).toEqual(sample());
  });

  it('reads tensor infos and data at aligned offsets', async () => {
    for (const alignment of [32, 64, 256]) {
      const bytes = sample(alignment);
      const file = await readGguf(new MemorySource(bytes));
      expect(file.alignment).toBe(alignment);
      expect(file.dataOffset % alignment).toBe(0);
      const a = getTensor(file, 'a');
      expect(a).toMatchObject({ dims: [3, 2], type: GgmlType.F32, elements: 6, byteLength: 24 });
      const q = getTensor(file, 'q');
      expect(q).toMatchObject({ type: GgmlType.Q4_K, elements: 512, byteLength: 288 });
      for (const t of file.tensors) expect((t.offset - file.dataOffset) % alignment).toBe(0);
      expect(Array.from(dequantize(a.type, await readTensorBytes(file, a), a.elements))).toEqual([
        0.5, 1.5, 2.5, 3.5, 4.5, 5.5,
      ]);
      const b = getTensor(file, 'b');
      expect(Array.from(dequantize(b.type, await readTensorBytes(file, b), 5))).toEqual([-0, -1, -2, -3, -4]);
    }
  });

  it('round-trips a vocabulary-sized header (the writer grows its buffer mid-value)', async () => {
    const tokens = Array.from({ length: 20000 }, (_, i) => `tok${i}_${'가'.repeat(i % 7)}`);
    const scores = Float32Array.from(tokens, (_, i) => -i / 3);
    const bytes = writeGguf({
      metadata: [
        ['tokenizer.ggml.tokens', kv.strs(tokens)],
        ['tokenizer.ggml.scores', kv.f32s(scores)],
        ['x.after', kv.u64(123n)],
      ],
      tensors: [f32Tensor('t', [32], (i) => i)],
    });
    const file = await readGguf(new MemorySource(bytes), { initialChunkBytes: 100 });
    expect(getStringArray(file, 'tokenizer.ggml.tokens')).toEqual(tokens);
    expect(getNumberArray(file, 'tokenizer.ggml.scores')).toEqual(scores);
    expect(file.metadata.get('x.after')?.value).toBe(123n);
  });

  it('reads GGUF version 2 (same layout)', async () => {
    const bytes = sample().slice();
    new DataView(bytes.buffer).setUint32(4, 2, true);
    const file = await readGguf(new MemorySource(bytes));
    expect(file.version).toBe(2);
    expect(getString(file, 't.string')).toBe('두레 — Dure 🤝');
  });

  it('reads the header lazily, in growing chunks, without touching tensor data', async () => {
    const big = f32Tensor('big', [1024, 1024], () => 1); // 4 MiB of data
    const bytes = writeGguf({ metadata: everyType, tensors: [big] });
    const src = new CountingSource(new MemorySource(bytes));
    const file = await readGguf(src, { initialChunkBytes: 64 });
    const lastByteRead = Math.max(...src.reads.map(([o, l]) => o + l));
    expect(lastByteRead).toBeLessThan(file.dataOffset + 1024);
    expect(src.reads.length).toBeGreaterThan(1);
    expect(src.reads.length).toBeLessThan(20);
    src.reads = [];
    const data = await readTensorBytes(file, file.tensors[0]!);
    expect(src.reads).toEqual([[file.dataOffset, 4 << 20]]);
    expect(data.byteLength).toBe(4 << 20);
  });

  it('a Blob that cannot be read gives GgufReadError', async () => {
    class BrokenBlob extends Blob {
      override slice(): Blob {
        return { arrayBuffer: () => Promise.reject(new Error('NotReadableError')) } as unknown as Blob;
      }
    }
    await expect(readGguf(new BlobSource(new BrokenBlob([sample().slice()])))).rejects.toThrow(GgufReadError);
  });

  it('reads through a Blob', async () => {
    const bytes = sample();
    const file = await readGguf(new BlobSource(new Blob([bytes.slice()])), { initialChunkBytes: 16 });
    expect(getStringArray(file, 't.arr.string')).toEqual(['가', '', 'Ġhello', '<|im_end|>', '\uFEFF//']);
    const a = getTensor(file, 'a');
    expect(await readTensorBytes(file, a)).toEqual(bytes.subarray(a.offset, a.offset + 24));
  });
});

describe('typed metadata access', () => {
  it('returns typed values and throws GgufMetadataError naming the key', async () => {
    const file = await readGguf(new MemorySource(sample()));
    expect(getU32(file, 't.u32')).toBe(4294967295);
    expect(getU32(file, 't.u8')).toBe(255);
    expect(getInteger(file, 't.i32')).toBe(-2147483648);
    expect(getFloat(file, 't.f32')).toBe(1.5);
    expect(getFloat(file, 't.u16')).toBe(65535);
    expect(getBool(file, 't.bool')).toBe(true);
    expect(Array.from(getNumberArray(file, 't.arr.i32'))).toEqual([1, -1, 3]);
    expect(getString(file, 'nope', 'fallback')).toBe('fallback');
    expect(() => getString(file, 'nope')).toThrow(/nope is missing/);
    expect(() => getString(file, 't.u32')).toThrow(GgufMetadataError);
    expect(() => getU32(file, 't.i32')).toThrow(GgufMetadataError);
    expect(() => getInteger(file, 't.u64')).toThrow(GgufMetadataError); // 2^64-1 is not a safe integer
    expect(() => getStringArray(file, 't.arr.i32')).toThrow(GgufMetadataError);
    expect(() => getTensor(file, 'missing')).toThrow(GgufMetadataError);
    expect(architecture(file)).toBe('llama');
  });

  it('refuses an unknown architecture', async () => {
    const bytes = writeGguf({ metadata: [['general.architecture', kv.str('mamba')]], tensors: [] });
    const file = await readGguf(new MemorySource(bytes));
    expect(() => architecture(file)).toThrow(GgufUnknownArchError);
  });
});

/** Builds a raw header by hand for malformed-file tests. */
function raw(
  parts: (['u32', number] | ['u64', bigint] | ['str', string] | ['bytes', number[]])[],
): Uint8Array {
  const out: number[] = [];
  const dv = new DataView(new ArrayBuffer(8));
  for (const [k, v] of parts) {
    if (k === 'u32') {
      dv.setUint32(0, v, true);
      out.push(...new Uint8Array(dv.buffer, 0, 4));
    } else if (k === 'u64') {
      dv.setBigUint64(0, v, true);
      out.push(...new Uint8Array(dv.buffer, 0, 8));
    } else if (k === 'str') {
      const b = new TextEncoder().encode(v);
      dv.setBigUint64(0, BigInt(b.length), true);
      out.push(...new Uint8Array(dv.buffer, 0, 8), ...b);
    } else out.push(...v);
  }
  return new Uint8Array(out);
}

const MAGIC: ['u32', number] = ['u32', 0x46554747];

describe('malformed files raise typed errors', () => {
  const read = (b: Uint8Array) => readGguf(new MemorySource(b));

  it('bad magic', async () => {
    await expect(read(new TextEncoder().encode('GGML\x03\0\0\0'))).rejects.toThrow(GgufBadMagicError);
  });
  it('truncated', async () => {
    await expect(read(new Uint8Array([0x47, 0x47]))).rejects.toThrow(GgufTruncatedError);
    const good = sample();
    await expect(read(good.subarray(0, 100))).rejects.toThrow(GgufTruncatedError);
  });
  it('unsupported versions', async () => {
    for (const v of [0, 1, 4, 0x03000000]) {
      await expect(read(raw([MAGIC, ['u32', v], ['u64', 0n], ['u64', 0n]]))).rejects.toThrow(
        GgufUnsupportedVersionError,
      );
    }
  });
  it('absurd counts and lengths are refused before allocating', async () => {
    await expect(read(raw([MAGIC, ['u32', 3], ['u64', 1n << 60n], ['u64', 0n]]))).rejects.toThrow(
      GgufLimitError,
    );
    await expect(read(raw([MAGIC, ['u32', 3], ['u64', 0n], ['u64', 1n << 40n]]))).rejects.toThrow(
      GgufLimitError,
    );
    // A key claiming to be 2^62 bytes long.
    await expect(
      read(
        raw([MAGIC, ['u32', 3], ['u64', 0n], ['u64', 1n], ['u64', 1n << 62n], ['bytes', [0, 0, 0, 0, 0]]]),
      ),
    ).rejects.toThrow(GgufLimitError);
    // An array of 2^50 u32s.
    const arr = raw([
      MAGIC,
      ['u32', 3],
      ['u64', 0n],
      ['u64', 1n],
      ['str', 'k'],
      ['u32', 9],
      ['u32', 4],
      ['u64', 1n << 50n],
    ]);
    await expect(read(arr)).rejects.toThrow(GgufLimitError);
    // Five dimensions.
    const dims = raw([
      MAGIC,
      ['u32', 3],
      ['u64', 1n],
      ['u64', 0n],
      ['str', 't'],
      ['u32', 5],
      ['bytes', new Array(60).fill(1)],
    ]);
    await expect(read(dims)).rejects.toThrow(GgufLimitError);
  });
  it('unknown value and tensor types', async () => {
    await expect(
      read(raw([MAGIC, ['u32', 3], ['u64', 0n], ['u64', 1n], ['str', 'k'], ['u32', 13], ['u64', 0n]])),
    ).rejects.toThrow(GgufUnknownTypeError);
    const t = raw([
      MAGIC,
      ['u32', 3],
      ['u64', 1n],
      ['u64', 0n],
      ['str', 't'],
      ['u32', 1],
      ['u64', 32n],
      ['u32', 77],
      ['u64', 0n],
    ]);
    await expect(read(t)).rejects.toThrow(GgufUnknownTypeError);
  });
  it('tensor data outside the file or misaligned', async () => {
    const bytes = sample();
    const file = await read(bytes);
    const last = file.tensors[file.tensors.length - 1]!;
    await expect(read(bytes.subarray(0, last.offset + 4))).rejects.toThrow(GgufTensorOutOfBoundsError);
    const t = raw([
      MAGIC,
      ['u32', 3],
      ['u64', 1n],
      ['u64', 0n],
      ['str', 't'],
      ['u32', 1],
      ['u64', 8n],
      ['u32', 0],
      ['u64', 4n],
    ]);
    await expect(read(new Uint8Array([...t, ...new Array(100).fill(0)]))).rejects.toThrow(
      GgufTensorOutOfBoundsError,
    );
  });
  it('duplicate keys, bad alignment, partial blocks', async () => {
    const dup = raw([
      MAGIC,
      ['u32', 3],
      ['u64', 0n],
      ['u64', 2n],
      ['str', 'k'],
      ['u32', 4],
      ['u32', 1],
      ['str', 'k'],
      ['u32', 4],
      ['u32', 1],
    ]);
    await expect(read(dup)).rejects.toThrow(GgufInvalidError);
    const align = raw([
      MAGIC,
      ['u32', 3],
      ['u64', 0n],
      ['u64', 1n],
      ['str', 'general.alignment'],
      ['u32', 4],
      ['u32', 48],
    ]);
    await expect(read(align)).rejects.toThrow(GgufInvalidError);
    const partial = raw([
      MAGIC,
      ['u32', 3],
      ['u64', 1n],
      ['u64', 0n],
      ['str', 't'],
      ['u32', 1],
      ['u64', 31n],
      ['u32', 8],
      ['u64', 0n],
    ]);
    await expect(read(new Uint8Array([...partial, ...new Array(64).fill(0)]))).rejects.toThrow(
      GgufInvalidError,
    );
  });
  it('the writer refuses inconsistent tensors and values', () => {
    expect(() =>
      writeGguf({
        metadata: [],
        tensors: [{ name: 'x', dims: [4], type: GgmlType.F32, data: new Uint8Array(15) }],
      }),
    ).toThrow(GgufInvalidError);
    expect(() => writeGguf({ metadata: [['k', kv.u8(256)]], tensors: [] })).toThrow(GgufInvalidError);
    expect(() => writeGguf({ metadata: [], tensors: [], alignment: 24 })).toThrow(GgufInvalidError);
  });
});
