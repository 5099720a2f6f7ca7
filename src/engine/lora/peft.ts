/**
 * PEFT adapter files → `LoraTensors`: `adapter_model.safetensors` (F32/F16/BF16) plus
 * `adapter_config.json`, read with the shared adapter codec (src/protocol/adapter-codec.ts). Only
 * plain LoRA is accepted: variants that change the maths (DoRA, rsLoRA scaling, per-module
 * rank/alpha patterns, transposed fan_in_fan_out weights, trained biases or extra saved modules)
 * are refused by name rather than silently applied wrongly. The codec's errors become
 * `LoraAdapterError`s here.
 */
import {
  adapterProblem,
  decodeAdapter,
  parsePeftConfig,
  type AdapterConfig,
  type LoraTensors,
} from '../../protocol/adapter-codec.ts';
import { DEFAULT_SAFETENSORS_LIMITS } from '../../protocol/safetensors.ts';
import { LORA_LIMITS } from './adapter.ts';
import { LoraAdapterError } from './errors.ts';

export type PeftLoraConfig = AdapterConfig;

/** A codec error as the engine reports it; any other error unchanged. */
function asLoraAdapterError(err: unknown): unknown {
  const p = adapterProblem(err);
  if (!p) return err;
  const e = err as Error;
  if (p.kind === 'safetensors')
    return new LoraAdapterError(`adapter_model.safetensors: ${p.message}`, { cause: e.cause });
  if (p.kind === 'empty')
    return new LoraAdapterError('adapter_model.safetensors holds no tensors', { cause: e });
  return new LoraAdapterError(e.message, { cause: e });
}

/**
 * Reads PEFT's adapter_config.json (a string or an already parsed object).
 * @throws {LoraAdapterError} for invalid JSON, a missing/bad `r`, `lora_alpha` or `target_modules`,
 *   or a LoRA variant Dure does not apply.
 */
export function parseAdapterConfig(config: string | object): PeftLoraConfig {
  try {
    return parsePeftConfig(config);
  } catch (err) {
    throw asLoraAdapterError(err);
  }
}

/**
 * A PEFT LoRA adapter from its two files, ready for `ChatEngine.setAdapters`. Tensor names and
 * 2-D shapes are checked against the config here; shapes against the model when it is applied.
 * Modules listed in target_modules but absent from the file (e.g. `layers_to_transform`) get no term.
 * @throws {LoraAdapterError} for a malformed or unsupported adapter.
 */
export function loraFromSafetensors(bytes: Uint8Array, configJson: string | object): LoraTensors {
  try {
    return decodeAdapter(bytes, {
      config: configJson,
      limits: {
        ...DEFAULT_SAFETENSORS_LIMITS,
        maxTotalBytes: LORA_LIMITS.maxValues * 4 + DEFAULT_SAFETENSORS_LIMITS.maxHeaderBytes,
        maxTensors: 7 * 2 * 1024,
      },
    }).lora;
  } catch (err) {
    throw asLoraAdapterError(err);
  }
}
