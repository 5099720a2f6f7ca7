import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DureError } from '../../errors.ts';
import { GgufInvalidError, GgufTruncatedError, GgufUnknownTypeError } from '../errors.ts';
import { GgmlType } from '../types.ts';
import {
  bf16BitsToF32,
  dequantize,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  ggmlByteLength,
  ggmlTypeTraits,
} from './index.ts';
import { IQ4_NL_VALUES } from './dequantize.ts';
import { quantize } from '../../../tools/gguf/quantize.ts';
import { lcg, quantTestVector } from '../../../testing/quant-test-vectors.ts';

const sha = (bytes: Uint8Array | Float32Array): string =>
  createHash('sha256')
    .update(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    .digest('hex')
    .slice(0, 32);

/**
 * sha256 (first 128 bits) of llama.cpp's bytes for `quantTestVector(4096)` — from
 * `quantize_row_<type>_ref` (f16/bf16: `ggml_fp32_to_{fp16,bf16}_row`) — and of llama.cpp's
 * `dequantize_row_<type>` of those bytes, computed by calling libggml-base.so shipped in
 * @node-llama-cpp/linux-x64 (`python3 scripts/ggml-golden.py` prints them again). Equal hashes mean
 * byte-identical quantization and bit-identical dequantization.
 */
const GGML_GOLDEN: Record<string, [GgmlType, string, string]> = {
  q4_0: [GgmlType.Q4_0, '79d30bc88e07c7c08fad2cc734c9de6b', 'ad89ca27a5ae107ef43580b087592671'],
  q4_1: [GgmlType.Q4_1, '1d2e0b95bd5bfc5120c7b0c45122d5e5', '067e62f3ff9e1061432dd3017a33c35e'],
  q5_0: [GgmlType.Q5_0, '5d0fb156ebef4d1a0796228f37e6470f', '51067be9edd9bf7c5a837c8566e107f8'],
  q5_1: [GgmlType.Q5_1, '28e3bec6d74cfe05e17014f5d4784fd4', '6ec8c4ce9cf2c64f824eec3c5b0ad724'],
  q8_0: [GgmlType.Q8_0, '23214ea8aeb95da57aed1c186c32dcf5', '220f4042f34e09883a875ad67d742363'],
  q2_K: [GgmlType.Q2_K, 'a2b2bd3739f764088e6d66663edef957', '9704769c7f6df95c68cf787136c92988'],
  q3_K: [GgmlType.Q3_K, '7248ea94ed5f168462b1682598f0b21e', '04f782dacc3f99a37690a7080f1cb474'],
  q4_K: [GgmlType.Q4_K, '77c0fc6245356f19faf5b9d6b116cc35', 'ba8290b6801c74bc052d24d780431690'],
  q5_K: [GgmlType.Q5_K, '4f45f1537d00c54cc61677d8be041c01', '697165d36234f05d869c275a08076e37'],
  q6_K: [GgmlType.Q6_K, 'a9ee42d3c0ccf5a87d3de63a370e0a44', 'd6129575f3c427440142b1f106ca3c17'],
  iq4_nl: [GgmlType.IQ4_NL, '87cb4ba25a13a8e98c78a236557122f7', '1e32d8c5e4f607143b248c4236f638e7'],
  iq4_xs: [GgmlType.IQ4_XS, '47c2fe3be33ae88459e2fe58874d290f', 'f047cb2b2689b0e69fec9afb253398e6'],
  f16: [GgmlType.F16, '089bd5c44c7f34b24c7aea689e81d980', '852e5765af30b04f2b4371200b49cff3'],
  bf16: [GgmlType.BF16, '5aed763244007d558bca3133045ae32d', '8f6561164657eeebd032e441e15f4601'],
};

describe('quantize / dequantize match llama.cpp bit for bit', () => {
  const x = quantTestVector(4096);
  for (const [name, [type, qHash, dqHash]] of Object.entries(GGML_GOLDEN)) {
    it(name, () => {
      const q = quantize(type, x);
      expect(q.byteLength).toBe(ggmlByteLength(type, x.length));
      expect(sha(q)).toBe(qHash);
      expect(sha(dequantize(type, q, x.length))).toBe(dqHash);
    });
  }
});

function gaussian(n: number, seed: number): Float32Array {
  const rnd = lcg(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  return x;
}

function relRmse(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += a[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe('round-trip error on Gaussian weights', () => {
  // Bounds are ~1.5x the errors these formats are known for (bits per weight: 16, 16, 8.5, 6.56,
  // 5.5, 5.5, 4.5, 4.5, 4.25, 4.5, 3.44, 2.63); an off-by-one in a layout gives errors of order 1.
  const bounds: [GgmlType, number][] = [
    [GgmlType.F32, 0],
    [GgmlType.F16, 5e-4],
    [GgmlType.BF16, 4e-3],
    [GgmlType.Q8_0, 0.01],
    [GgmlType.Q6_K, 0.03],
    [GgmlType.Q5_K, 0.05],
    [GgmlType.Q5_0, 0.07],
    [GgmlType.Q5_1, 0.06],
    [GgmlType.Q4_K, 0.1],
    [GgmlType.Q4_0, 0.14],
    [GgmlType.Q4_1, 0.12],
    [GgmlType.IQ4_XS, 0.12],
    [GgmlType.IQ4_NL, 0.12],
    [GgmlType.Q3_K, 0.23],
    [GgmlType.Q2_K, 0.45],
  ];
  const x = gaussian(8192, 7);
  for (const [type, bound] of bounds) {
    it(`${ggmlTypeTraits(type).name} relative RMSE ≤ ${bound}`, () => {
      const y = dequantize(type, quantize(type, x), x.length);
      const err = relRmse(x, y);
      expect(err).toBeLessThanOrEqual(bound);
      if (type !== GgmlType.F32) expect(err).toBeGreaterThan(0);
    });
  }

  it('quantizing the dequantized values again is stable for Q8_0', () => {
    const q = quantize(GgmlType.Q8_0, x);
    const q2 = quantize(GgmlType.Q8_0, dequantize(GgmlType.Q8_0, q, x.length));
    expect(sha(q2)).toBe(sha(q));
  });
});

describe('block layouts decoded from hand-built bytes', () => {
  it('Q4_0: d, then 16 bytes whose low nibbles are elements 0..15 and high nibbles 16..31', () => {
    const b = new Uint8Array(18);
    b[0] = 0x00;
    b[1] = 0x38; // f16 0.5
    for (let j = 0; j < 16; j++) b[2 + j] = j | ((15 - j) << 4);
    const y = dequantize(GgmlType.Q4_0, b, 32);
    for (let j = 0; j < 16; j++) {
      expect(y[j]).toBe((j - 8) * 0.5);
      expect(y[16 + j]).toBe((15 - j - 8) * 0.5);
    }
  });

  it('Q8_0: d, then 32 signed bytes', () => {
    const b = new Uint8Array(34);
    b[1] = 0x40; // f16 2.0
    b[2] = 0xff; // -1
    b[3] = 0x80; // -128
    b[33] = 127;
    const y = dequantize(GgmlType.Q8_0, b, 32);
    expect([y[0], y[1], y[2], y[31]]).toEqual([-2, -256, 0, 254]);
  });

  it('Q5_0: the 5th bits come from the 32-bit qh word', () => {
    const b = new Uint8Array(22);
    b[1] = 0x3c; // d = 1
    new DataView(b.buffer).setUint32(2, (1 << 3) | (1 << 20), true);
    const y = dequantize(GgmlType.Q5_0, b, 32);
    expect(y[3]).toBe(16 - 16);
    expect(y[20]).toBe(0);
    expect(y[0]).toBe(-16);
  });

  it('Q4_K: 6-bit scales and mins of sub-blocks 4..7 are split across the 12 scale bytes', () => {
    const b = new Uint8Array(144);
    b[1] = 0x3c; // d = 1
    b[3] = 0x3c; // dmin = 1
    // Sub-block 5: scale 0b10_0011 = 35, min 0b01_0101 = 21. Low nibbles in byte 4+5+4 = 13 of the
    // block (scales[9]), high two bits in the top bits of scales[1] (scale) and scales[5] (min).
    b[4 + 9] = 0x3 | (0x5 << 4);
    b[4 + 1] = 0b10 << 6;
    b[4 + 5] = 0b01 << 6;
    // Sub-block 5 is the high nibbles of qs bytes 64..95 (third 64-element group, second half).
    for (let l = 0; l < 32; l++) b[16 + 64 + l] = (l % 16) << 4;
    const y = dequantize(GgmlType.Q4_K, b, 256);
    for (let l = 0; l < 32; l++) expect(y[160 + l]).toBe(35 * (l % 16) - 21);
    // Sub-block 1 has scale bits only from the masked top bits: scales[1] & 63 = 0 → all -min.
    expect(y[32]).toBe(0);
  });

  it('Q6_K: ql/qh/scales/d order; element 0 uses scales[0], element 64 scales[4]', () => {
    const b = new Uint8Array(210);
    b[208] = 0x00;
    b[209] = 0x3c; // d = 1
    b[192] = 3; // scales[0]
    b[196] = -2 & 0xff; // scales[4]
    b[0] = 0x1 | (0x2 << 4); // element 0 low nibble 1, element 64 low nibble 2
    b[128] = (3 << 0) | (1 << 4); // element 0 high bits 3, element 64 high bits 1
    const y = dequantize(GgmlType.Q6_K, b, 256);
    expect(y[0]).toBe(3 * ((1 | (3 << 4)) - 32));
    expect(y[64]).toBe(-2 * ((2 | (1 << 4)) - 32));
    expect(y[1]).toBe(3 * -32);
  });

  it('Q2_K: 4-bit scale/min nibbles, 2-bit fields of qs by 32-element column, d and dmin last', () => {
    const b = new Uint8Array(84);
    b[81] = 0x3c; // d = 1
    b[83] = 0x38; // dmin = 0.5
    b[5] = 3 | (2 << 4); // sub-block 5 (elements 80..95): scale 3, min 2
    b[12] = 1 | (1 << 4); // sub-block 12 (elements 192..207): scale 1, min 1
    // Element e is bits 2·((e % 128) / 32) of qs[(e / 128)·32 + e % 32]: 80+l → qs[16+l] bits 4..5,
    // 192+l → qs[32+l] bits 4..5.
    for (let l = 0; l < 16; l++) b[16 + 16 + l] = (l % 4) << 4;
    for (let l = 0; l < 16; l++) b[16 + 32 + l] = 3 << 4;
    const y = dequantize(GgmlType.Q2_K, b, 256);
    for (let l = 0; l < 16; l++) {
      expect(y[80 + l]).toBe(3 * (l % 4) - 1);
      expect(y[192 + l]).toBe(3 - 0.5);
      expect(y[128 + l]).toBe(0); // same qs bytes, bits 0..1, sub-block 8 (scale and min 0)
    }
  });

  it('Q3_K: hmask bit e/32 of byte e%32 is the third bit (clear = −4); 6-bit scales split', () => {
    const b = new Uint8Array(110);
    b[109] = 0x3c; // d = 1
    // Sub-block 9 (elements 144..159): scale 35 = 0b10_0011 (stored +32): low nibble in the high
    // nibble of scales[1], high two bits at bits 4..5 of scales[9].
    b[96 + 1] = 3 << 4;
    b[96 + 9] = 2 << 4;
    for (let l = 0; l < 16; l++) {
      b[32 + 32 + 16 + l] = l % 4; // qs of element 144+l: qs[32+16+l] bits 0..1
      if (l % 2 === 0) b[16 + l] = 1 << 4; // hmask[16+l] bit 4
    }
    const y = dequantize(GgmlType.Q3_K, b, 256);
    for (let l = 0; l < 16; l++) expect(y[144 + l]).toBe(3 * ((l % 4) - (l % 2 === 0 ? 0 : 4)));
    expect(y[0]).toBe(-32 * -4); // stored scale 0 means −32; level 0 with clear hmask means −4
  });

  it('IQ4_NL: nibbles index the non-uniform levels, low nibbles first', () => {
    const b = new Uint8Array(18);
    b[1] = 0x38; // d = 0.5
    for (let j = 0; j < 16; j++) b[2 + j] = j | ((15 - j) << 4);
    const y = dequantize(GgmlType.IQ4_NL, b, 32);
    for (let j = 0; j < 16; j++) {
      expect(y[j]).toBe(0.5 * IQ4_NL_VALUES[j]!);
      expect(y[16 + j]).toBe(0.5 * IQ4_NL_VALUES[15 - j]!);
    }
    expect([y[0], y[15]]).toEqual([-63.5, 56.5]);
  });

  it('IQ4_XS: 6-bit sub-block scales from scales_l nibbles and scales_h bit pairs', () => {
    const b = new Uint8Array(136);
    b[1] = 0x3c; // d = 1
    // Sub-block 3: scale 40 = 0b10_1000 (stored +32): high nibble of scales_l[1], bits 6..7 of scales_h.
    b[4 + 1] = 8 << 4;
    b[2] = 2 << 6;
    for (let j = 0; j < 16; j++) b[8 + 16 * 3 + j] = j;
    const y = dequantize(GgmlType.IQ4_XS, b, 256);
    for (let j = 0; j < 16; j++) {
      expect(y[96 + j]).toBe(8 * IQ4_NL_VALUES[j]!);
      expect(y[112 + j]).toBe(8 * -127);
    }
    expect(y[0]).toBe(-32 * -127); // stored scale 0 means −32
  });

  it('reads blocks through a view with a byte offset', () => {
    const x = gaussian(64, 3);
    const q = quantize(GgmlType.Q8_0, x);
    const padded = new Uint8Array(q.byteLength + 5);
    padded.set(q, 5);
    expect(dequantize(GgmlType.Q8_0, padded.subarray(5), 64)).toEqual(dequantize(GgmlType.Q8_0, q, 64));
  });
});

describe('half-precision conversions', () => {
  it('f16 rounds to nearest even and handles the edges as ggml does', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // halfway to the next power → rounds up to Inf
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie → even (0)
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 ulp tie → even (2)
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(NaN)).toBe(0x7e00);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
  });

  it('every f16 value survives f16 → f32 → f16', () => {
    let bad = 0;
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) continue;
      if (f32ToF16Bits(v) !== h) bad++;
    }
    expect(bad).toBe(0);
  });

  it('bf16 rounds to nearest even and quiets NaN', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bf16BitsToF32(0xc040)).toBe(-3);
    expect(f32ToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
  });
});

describe('typed errors', () => {
  it('unknown or unsupported types', () => {
    expect(() => dequantize(99 as GgmlType, new Uint8Array(4), 1)).toThrow(GgufUnknownTypeError);
    expect(() => dequantize(GgmlType.Q8_K, new Uint8Array(292), 256)).toThrow(GgufUnknownTypeError);
    expect(() => quantize(GgmlType.Q8_1, new Float32Array(32))).toThrow(GgufUnknownTypeError);
  });

  it('element counts that are not whole blocks', () => {
    expect(() => quantize(GgmlType.Q4_K, new Float32Array(255))).toThrow(GgufInvalidError);
    expect(() => dequantize(GgmlType.Q8_0, new Uint8Array(34), 31)).toThrow(GgufInvalidError);
    expect(() => ggmlByteLength(GgmlType.Q4_0, -32)).toThrow(GgufInvalidError);
  });

  it('too few bytes', () => {
    const err = (() => {
      try {
        dequantize(GgmlType.Q6_K, new Uint8Array(209), 256);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(GgufTruncatedError);
    expect(err).toBeInstanceOf(DureError);
    expect((err as DureError).code).toBe('GGUF_TRUNCATED');
  });
});
