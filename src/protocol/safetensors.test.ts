import { describe, expect, it } from 'vitest';
import { SafetensorsError } from './errors.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';

function withHeader(json: string, data = new Uint8Array(0)): Uint8Array {
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips float32 tensors and metadata with 8-byte-aligned data', () => {
    const bytes = writeSafetensors(
      [
        { name: 'a', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) },
        { name: 'b', shape: [1], data: Float32Array.from([Math.PI]) },
      ],
      { 'dure.note': '두레' },
    );
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const { metadata, tensors } = readSafetensors(bytes);
    expect(metadata).toEqual({ 'dure.note': '두레' });
    expect(tensors.get('a')!.shape).toEqual([2, 3]);
    expect(Array.from(tensors.get('a')!.data)).toEqual([1, 2, 3, 4, 5, -6.5]);
    expect(tensors.get('b')!.data[0]).toBe(Math.fround(Math.PI));
  });

  it('reads F16 and BF16 little-endian data', () => {
    // 1.0 in f16 = 0x3c00, -2.0 in bf16 = 0xc000
    const f16 = withHeader(
      '{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}',
      Uint8Array.from([0x00, 0x3c]),
    );
    expect(readSafetensors(f16).tensors.get('x')!.data[0]).toBe(1);
    const bf16 = withHeader(
      '{"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}',
      Uint8Array.from([0x00, 0xc0]),
    );
    expect(readSafetensors(bf16).tensors.get('x')!.data[0]).toBe(-2);
  });

  it.each([
    ['a truncated file', new Uint8Array(4)],
    ['a header longer than the file', withHeader('{}').subarray(0, 9)],
    ['non-JSON', withHeader('not json')],
    [
      'an unknown dtype',
      withHeader('{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', new Uint8Array(8)),
    ],
    [
      'offsets that disagree with the shape',
      withHeader('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)),
    ],
    [
      'offsets past the end',
      withHeader('{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(4)),
    ],
    [
      'overlapping tensors',
      withHeader(
        '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        new Uint8Array(4),
      ),
    ],
    [
      'trailing bytes',
      withHeader('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(8)),
    ],
    [
      'a negative dimension',
      withHeader('{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)),
    ],
    ['non-string metadata', withHeader('{"__metadata__":{"n":1}}')],
  ])('rejects %s with SafetensorsError', (_what, bytes) => {
    expect(() => readSafetensors(bytes)).toThrow(SafetensorsError);
  });

  it('rejects a header over the size limit before parsing it', () => {
    const bytes = withHeader(`{"__metadata__":{"pad":"${'x'.repeat(200)}"}}`);
    expect(() => readSafetensors(bytes, { maxHeaderBytes: 100, maxTotalBytes: 1e9, maxTensors: 10 })).toThrow(
      /limit/,
    );
  });
});

describe('Node Buffer input', () => {
  it('decodes F32 from a Buffer that is a view into a larger pool', async () => {
    const { decodeTensorData } = await import('./safetensors.ts');
    const pool = Buffer.alloc(64, 7);
    const values = new Float32Array([1.5, -2, 3.25]);
    Buffer.from(values.buffer).copy(pool, 20);
    const view = pool.subarray(20, 32);
    expect(Array.from(decodeTensorData('F32', view))).toEqual([1.5, -2, 3.25]);
  });
});
