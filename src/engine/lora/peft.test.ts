/**
 * PEFT files → LoraTensors, and LoraTensors → llama.cpp LoRA GGUF (read back with Dure's reader).
 */
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../protocol/safetensors.ts';
import { MemorySource } from '../gguf/sources.ts';
import { readGguf } from '../gguf/reader.ts';
import { GgmlType } from '../gguf/types.ts';
import { LoraAdapterError } from './errors.ts';
import { loraFromSafetensors, parseAdapterConfig } from './peft.ts';
import { randomAdapter } from '../../testing/random-adapter.ts';
import { loraToGguf } from '../../tools/gguf/lora-to-gguf.ts';

const DIMS = { nLayer: 2, nEmbd: 64, nHead: 2, nKv: 1, headDim: 32, nFf: 96 };
const CONFIG = {
  peft_type: 'LORA',
  r: 4,
  lora_alpha: 8,
  target_modules: ['q_proj', 'v_proj', 'down_proj'],
  bias: 'none',
  use_dora: false,
  use_rslora: false,
  fan_in_fan_out: false,
  rank_pattern: {},
  alpha_pattern: {},
  modules_to_save: null,
};

function files() {
  const lora = randomAdapter(DIMS, {
    rank: 4,
    alpha: 8,
    targetModules: ['q_proj', 'v_proj', 'down_proj'],
    seed: 5,
    bStd: 0.1,
  });
  const tensors = [...lora.tensors].map(([name, data]) => {
    const isA = name.includes('lora_A');
    const rows = isA ? 4 : data.length / 4;
    return { name, shape: [rows, data.length / rows], data };
  });
  return { lora, bytes: writeSafetensors(tensors) };
}

describe('loraFromSafetensors', () => {
  it('reads a PEFT adapter exactly (names, values, rank, alpha, targets)', () => {
    const { lora, bytes } = files();
    const got = loraFromSafetensors(bytes, JSON.stringify(CONFIG));
    expect(got.rank).toBe(4);
    expect(got.alpha).toBe(8);
    expect(got.targetModules).toEqual(['q_proj', 'v_proj', 'down_proj']);
    expect([...got.tensors.keys()].sort()).toEqual([...lora.tensors.keys()].sort());
    for (const [k, v] of lora.tensors) expect(got.tensors.get(k)).toEqual(v);
  });

  it('reads a Node Buffer from a pooled allocation (Buffer.slice does not copy)', () => {
    const { lora, bytes } = files();
    const pooled = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(bytes)]).subarray(3);
    const got = loraFromSafetensors(pooled, CONFIG);
    for (const [k, v] of lora.tensors) expect(got.tensors.get(k)).toEqual(v);
  });

  it('accepts target_modules "all-linear" and a parsed config object; defaults lora_alpha to 8', () => {
    expect(parseAdapterConfig({ r: 2, target_modules: 'all-linear' })).toEqual({
      rank: 2,
      alpha: 8,
      targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    });
  });

  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{r: 4', /not valid JSON/],
    ['array', '[]', /not a JSON object/],
    ['no r', { ...CONFIG, r: undefined }, /r must be an integer/],
    ['r too big', { ...CONFIG, r: 100000 }, /r must be an integer/],
    ['negative alpha', { ...CONFIG, lora_alpha: -1 }, /lora_alpha/],
    ['DoRA', { ...CONFIG, use_dora: true }, /use_dora/],
    ['rsLoRA', { ...CONFIG, use_rslora: true }, /use_rslora/],
    ['rank pattern', { ...CONFIG, rank_pattern: { q_proj: 8 } }, /rank_pattern/],
    ['regex targets', { ...CONFIG, target_modules: '.*proj' }, /regular expression/],
    ['unknown module', { ...CONFIG, target_modules: ['lm_head'] }, /lm_head/],
    ['trained bias', { ...CONFIG, bias: 'all' }, /biases/],
    ['other PEFT type', { ...CONFIG, peft_type: 'IA3' }, /IA3/],
  ];
  it.each(bad)('rejects a config with %s', (_, cfg, msg) => {
    const { bytes } = files();
    const json = typeof cfg === 'string' ? cfg : JSON.stringify(cfg);
    expect(() => loraFromSafetensors(bytes, json)).toThrow(LoraAdapterError);
    expect(() => loraFromSafetensors(bytes, json)).toThrow(msg);
  });

  it('rejects foreign tensor names, wrong ranks, untargeted modules and corrupt files', () => {
    const cfg = JSON.stringify(CONFIG);
    const one = (name: string, shape: number[]) =>
      writeSafetensors([{ name, shape, data: new Float32Array(shape[0]! * shape[1]!) }]);
    expect(() => loraFromSafetensors(one('model.embed_tokens.weight', [4, 64]), cfg)).toThrow(/not a PEFT/);
    expect(() =>
      loraFromSafetensors(
        one('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', [3, 64]),
        cfg,
      ),
    ).toThrow(/r = 4/);
    expect(() =>
      loraFromSafetensors(one('base_model.model.model.layers.0.mlp.up_proj.lora_A.weight', [4, 64]), cfg),
    ).toThrow(/not in target_modules/);
    // PEFT nests q_proj under self_attn, never under mlp.
    expect(() =>
      loraFromSafetensors(one('base_model.model.model.layers.0.mlp.q_proj.lora_A.weight', [4, 64]), cfg),
    ).toThrow(/not a PEFT/);
    const { bytes } = files();
    expect(() => loraFromSafetensors(bytes.subarray(0, bytes.length - 3), cfg)).toThrow(LoraAdapterError);
  });
});

describe('loraToGguf', () => {
  it("writes llama.cpp's adapter layout: metadata, names, [in, rank] / [rank, out] dims, F32 data", async () => {
    const { lora } = files();
    const bytes = loraToGguf(lora, { architecture: 'qwen2', dims: DIMS }, 'test-adapter');
    const f = await readGguf(new MemorySource(bytes));
    expect(f.metadata.get('general.type')?.value).toBe('adapter');
    expect(f.metadata.get('general.architecture')?.value).toBe('qwen2');
    expect(f.metadata.get('adapter.type')?.value).toBe('lora');
    expect(f.metadata.get('adapter.lora.alpha')?.value).toBe(8);
    expect(f.tensors).toHaveLength(2 * 2 * 3);
    const t = (n: string) => f.tensors.find((x) => x.name === n)!;
    expect(t('blk.1.attn_q.weight.lora_a').dims).toEqual([64, 4]);
    expect(t('blk.1.attn_q.weight.lora_b').dims).toEqual([4, 64]);
    expect(t('blk.0.attn_v.weight.lora_b').dims).toEqual([4, 32]);
    expect(t('blk.0.ffn_down.weight.lora_a').dims).toEqual([96, 4]);
    const down = t('blk.0.ffn_down.weight.lora_b');
    expect(down.type).toBe(GgmlType.F32);
    const data = new Float32Array((await f.source.read(down.offset, down.byteLength)).slice().buffer);
    expect(data).toEqual(lora.tensors.get('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight'));
  });

  it('refuses an adapter that does not fit the base model', () => {
    const { lora } = files();
    expect(() => loraToGguf(lora, { architecture: 'llama', dims: { ...DIMS, nEmbd: 128 } })).toThrow(
      LoraAdapterError,
    );
  });
});
