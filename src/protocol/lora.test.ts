import { describe, expect, it } from 'vitest';
import { adapterTensorSpecs, initialAdapter, parameterCount, peftTensorName, seededLoraA } from './lora.ts';
import { AdapterShapeError } from './errors.ts';

const model = {
  numLayers: 2,
  modules: { q_proj: { inFeatures: 8, outFeatures: 8 }, down_proj: { inFeatures: 16, outFeatures: 8 } },
};

describe('LoRA layout', () => {
  it('uses PEFT names and [r, in] / [out, r] shapes', () => {
    expect(peftTensorName(3, 'q_proj', 'A')).toBe(
      'base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight',
    );
    expect(peftTensorName(0, 'down_proj', 'B')).toBe(
      'base_model.model.model.layers.0.mlp.down_proj.lora_B.weight',
    );
    const specs = adapterTensorSpecs(model, { rank: 4, targetModules: ['q_proj', 'down_proj'] });
    expect(specs).toHaveLength(8);
    expect(specs[2]).toEqual({ name: peftTensorName(0, 'down_proj', 'A'), shape: [4, 16] });
    expect(specs[3]).toEqual({ name: peftTensorName(0, 'down_proj', 'B'), shape: [8, 4] });
    expect(parameterCount(specs)).toBe(2 * (4 * 8 + 8 * 4 + 4 * 16 + 8 * 4));
    expect(
      adapterTensorSpecs(model, { rank: 4, targetModules: ['q_proj'] }, { a: false, b: true }).every((s) =>
        s.name.includes('lora_B'),
      ),
    ).toBe(true);
  });

  it('throws AdapterShapeError for unknown modules or a missing shape', () => {
    expect(() => peftTensorName(0, 'lm_head', 'A')).toThrow(AdapterShapeError);
    expect(() => adapterTensorSpecs(model, { rank: 4, targetModules: ['v_proj'] })).toThrow(
      AdapterShapeError,
    );
  });

  it('draws lora_A reproducibly from the seed, within the Kaiming bound, different per tensor', () => {
    const a1 = seededLoraA(7, 'x', 4, 64);
    expect(Array.from(seededLoraA(7, 'x', 4, 64))).toEqual(Array.from(a1));
    expect(Array.from(seededLoraA(8, 'x', 4, 64))).not.toEqual(Array.from(a1));
    expect(Array.from(seededLoraA(7, 'y', 4, 64))).not.toEqual(Array.from(a1));
    expect(Math.max(...a1.map(Math.abs))).toBeLessThanOrEqual(1 / 8);
    const mean = a1.reduce((s, v) => s + v, 0) / a1.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
  });

  it('starts with zero B so the adapter changes nothing', () => {
    const t = initialAdapter(model, { rank: 2, alpha: 4, targetModules: ['q_proj'], seed: 1 });
    expect(t.filter((x) => x.name.includes('lora_B')).every((x) => x.data.every((v) => v === 0))).toBe(true);
    expect(t.filter((x) => x.name.includes('lora_A')).every((x) => x.data.some((v) => v !== 0))).toBe(true);
  });
});
