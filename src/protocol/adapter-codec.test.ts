import { describe, expect, it } from 'vitest';
import {
  ADAPTER_META,
  adapterProblem,
  checkAdapterHeader,
  decodeAdapter,
  encodeAdapter,
  parsePeftConfig,
  parsePeftTensorName,
  peftConfigJson,
  peftTensorName,
  type LoraTensors,
} from './adapter-codec.ts';
import { AdapterShapeError, SafetensorsError } from './errors.ts';
import { adapterTensorSpecs, initialAdapter } from './lora.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';

const MODEL = {
  numLayers: 2,
  modules: { q_proj: { inFeatures: 8, outFeatures: 6 }, down_proj: { inFeatures: 12, outFeatures: 8 } },
};
const LORA = { rank: 4, alpha: 8, targetModules: ['q_proj', 'down_proj'], seed: 3 };

function adapter(): LoraTensors {
  const tensors = new Map<string, Float32Array>();
  let k = 0;
  for (const t of initialAdapter(MODEL, LORA))
    tensors.set(
      t.name,
      t.data.map(() => (k++ % 7) - 3.5),
    );
  return { rank: 4, alpha: 8, targetModules: ['q_proj', 'down_proj'], tensors };
}

/** The problem behind a codec error thrown by `f`. */
function problemOf(f: () => unknown) {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(AdapterShapeError);
    return adapterProblem(err);
  }
  throw new Error('expected the codec to throw');
}

describe('PEFT tensor names', () => {
  it('formats and parses the same names', () => {
    const name = peftTensorName(11, 'down_proj', 'B');
    expect(name).toBe('base_model.model.model.layers.11.mlp.down_proj.lora_B.weight');
    expect(parsePeftTensorName(name)).toEqual({ layer: 11, module: 'down_proj', which: 'B' });
    expect(parsePeftTensorName(peftTensorName(0, 'q_proj', 'A'))).toEqual({
      layer: 0,
      module: 'q_proj',
      which: 'A',
    });
  });

  it('rejects foreign names, wrong blocks, unknown modules and leading zeros', () => {
    for (const name of [
      'model.embed_tokens.weight',
      'base_model.model.model.layers.0.mlp.q_proj.lora_A.weight',
      'base_model.model.model.layers.0.self_attn.lm_head.lora_A.weight',
      'base_model.model.model.layers.01.self_attn.q_proj.lora_A.weight',
      'base_model.model.model.layers.0.self_attn.q_proj.lora_C.weight',
    ])
      expect(parsePeftTensorName(name)).toBeUndefined();
    expect(() => peftTensorName(0, 'lm_head', 'A')).toThrow(AdapterShapeError);
  });
});

describe('adapter_config.json', () => {
  it('reads plain LoRA and writes it back', () => {
    const cfg = parsePeftConfig(
      '{"peft_type":"LORA","r":4,"lora_alpha":16,"target_modules":["q_proj","q_proj"]}',
    );
    expect(cfg).toEqual({ rank: 4, alpha: 16, targetModules: ['q_proj'] });
    expect(peftConfigJson(cfg)).toEqual({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 16,
      target_modules: ['q_proj'],
    });
  });

  it.each([
    ['not JSON', '{r: 4'],
    ['no rank', { target_modules: ['q_proj'] }],
    ['rank too big', { r: 4096, target_modules: ['q_proj'] }],
    ['DoRA', { r: 4, target_modules: ['q_proj'], use_dora: true }],
    ['unknown module', { r: 4, target_modules: ['lm_head'] }],
  ])('refuses a config with %s', (_, config) => {
    expect(problemOf(() => parsePeftConfig(config))).toMatchObject({ kind: 'config' });
  });
});

describe('decodeAdapter / encodeAdapter', () => {
  it('round-trips an adapter through safetensors bytes, config in the metadata', () => {
    const lora = adapter();
    const bytes = encodeAdapter(lora, { metadata: { [ADAPTER_META.version]: '3' } });
    const got = decodeAdapter(bytes);
    expect(got.lora.rank).toBe(4);
    expect(got.lora.alpha).toBe(8);
    expect(got.lora.targetModules).toEqual(['q_proj', 'down_proj']);
    expect([...got.lora.tensors.keys()]).toEqual([...lora.tensors.keys()]);
    for (const [k, v] of lora.tensors) expect(got.lora.tensors.get(k)).toEqual(v);
    expect(got.shapes.get(peftTensorName(1, 'down_proj', 'A'))).toEqual([4, 12]);
    expect(got.shapes.get(peftTensorName(1, 'q_proj', 'B'))).toEqual([6, 4]);
    expect(got.metadata[ADAPTER_META.version]).toBe('3');
    expect(got.metadata[ADAPTER_META.rank]).toBe('4');
  });

  it('takes the config from adapter_config.json when given, and a list of tensors without metadata', () => {
    const specs = adapterTensorSpecs(MODEL, LORA);
    const lora = adapter();
    const bytes = encodeAdapter(specs.map((s) => ({ ...s, data: lora.tensors.get(s.name)! })));
    expect(readSafetensors(bytes).metadata).toEqual({});
    expect(problemOf(() => decodeAdapter(bytes))).toMatchObject({ kind: 'config' });
    const got = decodeAdapter(bytes, {
      config: { r: 4, lora_alpha: 2, target_modules: ['q_proj', 'down_proj'] },
    });
    expect(got.lora.alpha).toBe(2);
    expect(got.lora.tensors.get(specs[0]!.name)).toEqual(lora.tensors.get(specs[0]!.name));
  });

  it('refuses a bad name, an untargeted module, a wrong rank, no tensors and a corrupt file', () => {
    const config = { r: 4, target_modules: ['q_proj'] };
    const one = (name: string, shape: number[]) =>
      writeSafetensors([{ name, shape, data: new Float32Array(shape[0]! * shape[1]!) }]);
    expect(problemOf(() => decodeAdapter(one('model.embed_tokens.weight', [4, 8]), { config }))).toEqual({
      kind: 'name',
      tensor: 'model.embed_tokens.weight',
    });
    expect(
      problemOf(() => decodeAdapter(one(peftTensorName(0, 'down_proj', 'A'), [4, 12]), { config })),
    ).toMatchObject({ kind: 'untargeted', module: 'down_proj' });
    const wrongRank = problemOf(() =>
      decodeAdapter(one(peftTensorName(0, 'q_proj', 'B'), [6, 3]), { config }),
    );
    expect(wrongRank).toEqual({
      kind: 'rank',
      tensor: peftTensorName(0, 'q_proj', 'B'),
      shape: [6, 3],
      which: 'B',
      rank: 4,
    });
    expect(problemOf(() => decodeAdapter(writeSafetensors([]), { config }))).toEqual({ kind: 'empty' });
    const bytes = encodeAdapter(adapter());
    let err: unknown;
    try {
      decodeAdapter(bytes.subarray(0, bytes.length - 3));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AdapterShapeError);
    expect(adapterProblem(err)).toMatchObject({ kind: 'safetensors' });
    expect((err as Error).cause).toBeInstanceOf(SafetensorsError);
  });

  it('refuses to encode a foreign name or tensors that do not fit the config', () => {
    const data = new Float32Array(32);
    expect(problemOf(() => encodeAdapter([{ name: 'lm_head.weight', shape: [4, 8], data }]))).toMatchObject({
      kind: 'name',
    });
    const a = { name: peftTensorName(0, 'q_proj', 'A'), shape: [8, 4], data };
    expect(
      problemOf(() => encodeAdapter([a], { config: { rank: 4, alpha: 8, targetModules: ['q_proj'] } })),
    ).toMatchObject({ kind: 'rank', which: 'A' });
    expect(problemOf(() => encodeAdapter([{ ...a, shape: [4, 9] }]))).toMatchObject({ kind: 'safetensors' });
  });

  it('reads a Node Buffer from a pooled allocation', () => {
    const bytes = encodeAdapter(adapter());
    const pooled = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(bytes)]).subarray(3);
    expect(decodeAdapter(pooled).lora.tensors.size).toBe(8);
  });
});

describe('checkAdapterHeader against expected specs', () => {
  const specs = adapterTensorSpecs(MODEL, LORA, { a: false, b: true });
  const header = () => specs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'F32' as const }));

  it('accepts exactly the expected tensors in any order', () => {
    expect(() => checkAdapterHeader(header().reverse(), { specs })).not.toThrow();
  });

  it('names the first difference: count, missing tensor, dtype, shape', () => {
    expect(problemOf(() => checkAdapterHeader(header().slice(1), { specs }))).toEqual({
      kind: 'count',
      expected: 4,
      got: 3,
    });
    const renamed = header().map((t, i) => (i === 2 ? { ...t, name: peftTensorName(0, 'q_proj', 'A') } : t));
    expect(problemOf(() => checkAdapterHeader(renamed, { specs }))).toEqual({
      kind: 'missing',
      tensor: specs[2]!.name,
    });
    const f16 = header().map((t, i) => (i === 1 ? { ...t, dtype: 'F16' as const } : t));
    const dtype = problemOf(() => checkAdapterHeader(f16, { specs }));
    expect(dtype).toMatchObject({ kind: 'dtype', dtype: 'F16', expected: 'F32' });
    const shaped = header().map((t, i) => (i === 0 ? { ...t, shape: [t.shape[1]!, t.shape[0]!] } : t));
    expect(problemOf(() => checkAdapterHeader(shaped, { specs }))).toMatchObject({
      kind: 'shape',
      tensor: specs[0]!.name,
    });
    try {
      checkAdapterHeader(shaped, { specs });
    } catch (err) {
      expect((err as Error).message).toBe(`tensor ${specs[0]!.name} has shape [4,6], expected [6,4]`);
    }
  });
});
