/**
 * LoRA adapter → GGUF in llama.cpp's adapter layout, so llama.cpp (and node-llama-cpp) apply the
 * same adapter Dure applies:
 *   - metadata `general.type = "adapter"`, `adapter.type = "lora"`, `adapter.lora.alpha` (f32) and
 *     `general.architecture` of the base model (llama.cpp refuses a mismatch);
 *   - per adapted weight `blk.N.<tensor>.weight.lora_a` with ggml dims [in, rank] and `.lora_b` with
 *     dims [rank, out]. ggml dims are the PyTorch shape reversed, so PEFT's row-major lora_A
 *     [rank, in] and lora_B [out, rank] are written byte for byte, unchanged.
 * llama.cpp scales the term by adapter_scale · alpha / rank (rank read from lora_b), as Dure does.
 * Tensors are F32: exact, and adapters are small.
 */
import type { LoraTensors } from '../../training/api.ts';
import { kv, writeGguf, type GgufTensorInput } from './writer.ts';
import { GgmlType, type GgufKv } from '../../engine/gguf/types.ts';
import { LORA_MODULES, moduleDims, validateAdapter, type LoraModelDims } from '../../engine/lora/adapter.ts';

export interface LoraGgufBase {
  /** `general.architecture` of the base GGUF (e.g. `llama`, `qwen2`). */
  architecture: string;
  dims: LoraModelDims;
}

/** GGUF tensor name of one LoRA matrix for a PEFT module, e.g. `blk.3.attn_q.weight.lora_a`. */
export function ggufLoraTensorName(
  layer: number,
  module: keyof typeof LORA_MODULES,
  which: 'a' | 'b',
): string {
  return `blk.${layer}.${LORA_MODULES[module].gguf}.weight.lora_${which}`;
}

function f32Bytes(v: Float32Array): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i]!, true);
  return out;
}

/**
 * Serialises an adapter as a llama.cpp LoRA GGUF for a base model.
 * @throws {import('../../engine/lora/errors.ts').LoraAdapterError} when the adapter does not fit the base model.
 */
export function loraToGguf(lora: LoraTensors, base: LoraGgufBase, name = 'dure-lora'): Uint8Array {
  const valid = validateAdapter(name, lora, base.dims);
  const metadata: [string, GgufKv][] = [
    ['general.architecture', kv.str(base.architecture)],
    ['general.type', kv.str('adapter')],
    ['general.name', kv.str(name)],
    ['adapter.type', kv.str('lora')],
    ['adapter.lora.alpha', kv.f32(valid.alpha)],
  ];
  const tensors: GgufTensorInput[] = [];
  for (const p of valid.pairs) {
    const { inFeatures, outFeatures } = moduleDims(base.dims, p.module);
    tensors.push(
      {
        name: ggufLoraTensorName(p.layer, p.module, 'a'),
        dims: [inFeatures, valid.rank],
        type: GgmlType.F32,
        data: f32Bytes(p.a),
      },
      {
        name: ggufLoraTensorName(p.layer, p.module, 'b'),
        dims: [valid.rank, outFeatures],
        type: GgmlType.F32,
        data: f32Bytes(p.b),
      },
    );
  }
  return writeGguf({ metadata, tensors });
}
