import { describe, expect, it } from 'vitest';
import { QuantizationError } from '../errors.ts';
import { DEFAULT_QUANTIZATION, checkQuantizationParams, dequantizeSum, quantize } from './quantize.ts';

const P = DEFAULT_QUANTIZATION;
const signed = (u: Uint32Array) => Array.from(u, (v) => v | 0);

describe('fixed-point quantization', () => {
  it('clips to [−c, c], scales by 2^k and stores negatives as two’s complement', () => {
    const q = quantize(Float32Array.from([0, 0.5, -0.5, 3, -3, 1]), P);
    expect(signed(q)).toEqual([0, 2 ** 19, -(2 ** 19), 2 ** 20, -(2 ** 20), 2 ** 20]);
    expect(q[2]).toBe(2 ** 32 - 2 ** 19);
  });

  it('rounds stochastically and without bias', () => {
    // 0.25 of a step: rounds up about a quarter of the time, never further than one step.
    const x = 0.25 * 2 ** -20;
    const n = 40_000;
    const q = signed(quantize(new Float64Array(n).fill(x), P));
    expect(q.every((v) => v === 0 || v === 1)).toBe(true);
    const ups = q.reduce((a, v) => a + v, 0);
    // Binomial(n, 1/4): sd = sqrt(n·3/16) ≈ 87; 6 sd leaves a false alarm below 1e-8.
    expect(Math.abs(ups - n / 4)).toBeLessThan(6 * Math.sqrt((n * 3) / 16));
  });

  it('refuses parameters whose sum could wrap (n·(c·2^k + 1 + noise) ≥ 2^31)', () => {
    expect(() => checkQuantizationParams(P)).not.toThrow();
    expect(() => checkQuantizationParams({ ...P, maxClients: 2048 })).toThrow(
      expect.objectContaining({ code: 'QUANT_HEADROOM' }),
    );
    // Flower's defaults (clip 8, 2^22) leave room for 63 clients here, not 64.
    expect(() =>
      checkQuantizationParams({ clip: 8, scaleBits: 22, maxClients: 63, noiseBound: 0 }),
    ).not.toThrow();
    expect(() => checkQuantizationParams({ clip: 8, scaleBits: 22, maxClients: 64, noiseBound: 0 })).toThrow(
      QuantizationError,
    );
    expect(() => checkQuantizationParams({ ...P, noiseBound: 2 ** 20 })).toThrow(
      expect.objectContaining({ code: 'QUANT_HEADROOM' }),
    );
    expect(() => dequantizeSum(new Uint32Array(1), P.maxClients + 1, P)).toThrow(
      expect.objectContaining({ code: 'QUANT_HEADROOM' }),
    );
  });

  it('refuses non-finite values and vectors over a promised L2 clip; clamps otherwise', () => {
    expect(() => quantize(Float32Array.from([0, NaN]), P)).toThrow(
      expect.objectContaining({ code: 'QUANT_INPUT' }),
    );
    const over = Float32Array.from([0.8, 0.8]); // norm 1.13 > 1, each coordinate within 1
    expect(() => quantize(over, P, { assumeL2Clipped: true })).toThrow(
      expect.objectContaining({ code: 'QUANT_INPUT' }),
    );
    const scaled = Float32Array.from([0.6, 0.8]); // norm 1: accepted as promised
    expect(signed(quantize(scaled, P, { assumeL2Clipped: true }))[1]).toBeGreaterThanOrEqual(
      Math.floor(0.8 * 2 ** 20),
    );
  });

  it('adds an integer noise vector before masking, within its declared bound', () => {
    const params = { ...P, maxClients: 512, noiseBound: 1000 };
    const noise = Int32Array.from([5, -1000, 0, 1000]);
    const q = signed(quantize(Float32Array.from([0, 0, 0.5, -0.5]), params, { noise }));
    expect(q).toEqual([5, -1000, 2 ** 19, -(2 ** 19) + 1000]);
    expect(() => quantize(new Float32Array(4), params, { noise: Int32Array.from([0, 0, 0, 1001]) })).toThrow(
      expect.objectContaining({ code: 'QUANT_INPUT' }),
    );
    expect(() => quantize(new Float32Array(3), params, { noise })).toThrow(QuantizationError);
  });

  it('reads a modular sum back as signed fixed point', () => {
    const a = quantize(Float32Array.from([-0.75, 0.25]), P);
    const b = quantize(Float32Array.from([-0.5, 0.5]), P);
    const sum = a.map((v, i) => (v + b[i]!) >>> 0);
    expect(Array.from(dequantizeSum(sum, 2, P))).toEqual([-1.25, 0.75]);
  });
});
