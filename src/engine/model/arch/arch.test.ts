/**
 * Specs → ModelConfig, from metadata alone (no GPU, no files): the per-layer windows and RoPE that
 * llama.cpp derives for real Gemma 3 / EXAONE 4.0 shapes, RoPE scaling parameters, and refusals.
 */
import { describe, expect, it } from 'vitest';
import type { GgufFile, GgufKv } from '../../gguf/types.ts';
import { kv } from '../../../tools/gguf/writer.ts';
import { modelConfig, ropeVariants, UnsupportedRopeScalingError } from '../config.ts';
import { ropeTable } from '../rope-table.ts';
import { ARCH_SPECS, ARCHITECTURES } from './index.ts';

function file(arch: string, extra: [string, GgufKv][] = [], nLayer = 4): GgufFile {
  const list: [string, GgufKv][] = [
    ['general.architecture', kv.str(arch)],
    [`${arch}.block_count`, kv.u32(nLayer)],
    [`${arch}.embedding_length`, kv.u32(256)],
    [`${arch}.feed_forward_length`, kv.u32(512)],
    [`${arch}.attention.head_count`, kv.u32(4)],
    [`${arch}.attention.head_count_kv`, kv.u32(2)],
    [`${arch}.vocab_size`, kv.u32(100)],
    [`${arch}.context_length`, kv.u32(8192)],
    [`${arch}.rope.freq_base`, kv.f32(1e6)],
    ...extra,
  ];
  return { metadata: new Map(list), tensors: [] } as unknown as GgufFile;
}

describe('architecture specs', () => {
  it('every registered architecture has a spec of its own name', () => {
    for (const a of ARCHITECTURES) expect(ARCH_SPECS[a].name).toBe(a);
  });

  it('gemma3 (26 layers): 5 sliding then 1 global, local base 10000 unscaled, global base scaled', () => {
    const cfg = modelConfig(
      file(
        'gemma3',
        [
          ['gemma3.attention.sliding_window', kv.u32(512)],
          ['gemma3.rope.scaling.type', kv.str('linear')],
          ['gemma3.rope.scaling.factor', kv.f32(8)],
        ],
        26,
      ),
    );
    const global = cfg.layers.flatMap((l, i) => (l.window === 0 ? [i] : []));
    expect(global).toEqual([5, 11, 17, 23]);
    expect(cfg.layers[0]!.window).toBe(512);
    expect(cfg.layers[0]!.rope).toMatchObject({ freqBase: 10000, freqScale: 1 });
    expect(cfg.layers[5]!.rope).toMatchObject({ freqBase: 1e6, freqScale: 0.125 });
    expect(ropeVariants(cfg).variants).toHaveLength(2);
    expect(cfg).toMatchObject({ qkNorm: true, postNorms: true, preNorms: true, gelu: true, attnSoftcap: 0 });
    expect(cfg.embedScale).toBeCloseTo(16);
  });

  it('gemma3 without a sliding window is all global; a pattern array names each layer', () => {
    expect(modelConfig(file('gemma3')).layers.every((l) => l.window === 0)).toBe(true);
    const cfg = modelConfig(
      file('gemma3', [
        ['gemma3.attention.sliding_window', kv.u32(8)],
        ['gemma3.attention.sliding_window_pattern', kv.bools([true, false, false, true])],
      ]),
    );
    expect(cfg.layers.map((l) => l.window)).toEqual([8, 0, 0, 8]);
  });

  it('exaone4: the 1.2B shape is all global and rotated; 64 layers slide 3 of 4 and rotate only those', () => {
    const small = modelConfig(file('exaone4', [], 30));
    expect(small.layers.every((l) => l.window === 0 && l.rope !== null)).toBe(true);
    expect(small).toMatchObject({ preNorms: false, postNorms: true, qkNorm: true, gelu: false });
    const big = modelConfig(file('exaone4', [], 64));
    expect(big.layers.slice(0, 4).map((l) => l.window)).toEqual([4096, 4096, 4096, 0]);
    expect(big.layers.slice(0, 4).map((l) => l.rope === null)).toEqual([false, false, false, true]);
  });

  it('only the architectures whose llama.cpp graph passes rope_freqs use it', () => {
    expect(modelConfig(file('llama')).ropeFactors).toBe(true);
    expect(modelConfig(file('qwen2')).ropeFactors).toBe(false);
    expect(modelConfig(file('exaone4')).ropeFactors).toBe(true);
  });
});

describe('RoPE scaling', () => {
  const scaled = (type: string | undefined, factor = 4) =>
    modelConfig(
      file('qwen2', [
        ...(type ? ([['qwen2.rope.scaling.type', kv.str(type)]] as [string, GgufKv][]) : []),
        ['qwen2.rope.scaling.factor', kv.f32(factor)],
      ]),
    );

  it('a factor without a type is linear (llama.cpp default); none ignores the factor', () => {
    expect(scaled(undefined).ropeScale).toBe(0.25);
    expect(scaled('linear').ropeScale).toBe(0.25);
    expect(scaled('none').ropeScale).toBe(1);
    expect(scaled('none').layers[0]!.rope!.extFactor).toBe(0);
  });

  it('yarn: ext_factor 1, cos/sin scaled by 1 + 0.1·ln(factor) overall', () => {
    const rope = scaled('yarn').layers[0]!.rope!;
    expect(rope).toMatchObject({ extFactor: 1, freqScale: 0.25, nCtxOrig: 8192 });
    const t = ropeTable({ positions: 2, nRot: 64, ...rope });
    // Position 0: θ = 0, so cos = mscale and sin = 0.
    expect(t[0]).toBeCloseTo(1 + 0.1 * Math.log(4), 6);
    expect(t[1]).toBe(0);
    // The lowest pair extrapolates (θ = pos), the highest interpolates (θ = pos·scale·base^…).
    const half = 32;
    expect(Math.atan2(t[(half + 0) * 2 + 1]!, t[(half + 0) * 2]!)).toBeCloseTo(1, 6);
    const last = 0.25 * Math.pow(1e6, -62 / 64);
    expect(Math.atan2(t[(half + 31) * 2 + 1]!, t[(half + 31) * 2]!)).toBeCloseTo(last, 9);
  });

  it('longrope and unknown types are refused with a typed error naming them', () => {
    for (const type of ['longrope', 'su', 'dynamic']) {
      expect(() => scaled(type)).toThrow(UnsupportedRopeScalingError);
      expect(() => scaled(type)).toThrow(new RegExp(`"${type}"`));
    }
  });
});
