/**
 * PEFT adapter files → `LoraTensors`: `adapter_model.safetensors` (F32/F16/BF16) plus
 * `adapter_config.json`. Only plain LoRA is accepted: variants that change the maths (DoRA,
 * rsLoRA scaling, per-module rank/alpha patterns, transposed fan_in_fan_out weights, trained
 * biases or extra saved modules) are refused by name rather than silently applied wrongly.
 */
import { DEFAULT_SAFETENSORS_LIMITS, readSafetensors } from '../../protocol/safetensors.ts';
import type { LoraTensors } from '../../training/api.ts';
import { isLoraModule, LORA_LIMITS, LORA_MODULES, parsePeftName } from './adapter.ts';
import { LoraAdapterError } from './errors.ts';

/** Largest adapter_config.json accepted. */
const MAX_CONFIG_BYTES = 64 * 1024;

export interface PeftLoraConfig {
  rank: number;
  alpha: number;
  targetModules: string[];
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

/**
 * Reads PEFT's adapter_config.json (a string or an already parsed object).
 * @throws {LoraAdapterError} for invalid JSON, a missing/bad `r`, `lora_alpha` or `target_modules`,
 *   or a LoRA variant Dure does not apply.
 */
export function parseAdapterConfig(config: string | object): PeftLoraConfig {
  let c: unknown = config;
  if (typeof config === 'string') {
    if (config.length > MAX_CONFIG_BYTES)
      throw new LoraAdapterError(`adapter_config.json is larger than ${MAX_CONFIG_BYTES} bytes`);
    try {
      c = JSON.parse(config);
    } catch (cause) {
      throw new LoraAdapterError('adapter_config.json is not valid JSON', { cause });
    }
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c))
    throw new LoraAdapterError('adapter_config.json is not a JSON object');
  const o = c as Record<string, unknown>;
  if (o['peft_type'] !== undefined && o['peft_type'] !== 'LORA')
    throw new LoraAdapterError(`peft_type ${JSON.stringify(o['peft_type'])} is not LORA`);
  const rank = o['r'];
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 1 || rank > LORA_LIMITS.maxRank)
    throw new LoraAdapterError(`adapter_config.json: r must be an integer in 1..${LORA_LIMITS.maxRank}`);
  // PEFT's default lora_alpha is 8.
  const alpha = o['lora_alpha'] ?? 8;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0)
    throw new LoraAdapterError('adapter_config.json: lora_alpha must be a positive number');
  for (const key of [
    'use_dora',
    'use_rslora',
    'fan_in_fan_out',
    'rank_pattern',
    'alpha_pattern',
    'modules_to_save',
  ]) {
    if (!isEmpty(o[key]))
      throw new LoraAdapterError(`adapter_config.json: ${key} is set; Dure applies plain LoRA only`);
  }
  if (o['bias'] !== undefined && o['bias'] !== 'none')
    throw new LoraAdapterError('adapter_config.json: trained biases (bias ≠ "none") are not supported');
  const tm = o['target_modules'];
  let targetModules: string[];
  if (tm === 'all-linear') targetModules = Object.keys(LORA_MODULES);
  else if (Array.isArray(tm) && tm.length > 0 && tm.every((m) => typeof m === 'string')) targetModules = tm;
  else
    throw new LoraAdapterError(
      'adapter_config.json: target_modules must be a list of module names (a regular expression is not supported)',
    );
  for (const m of targetModules) {
    if (!isLoraModule(m))
      throw new LoraAdapterError(
        `adapter_config.json: target module ${JSON.stringify(m)} is not one of ${Object.keys(LORA_MODULES).join(', ')}`,
      );
  }
  return { rank, alpha, targetModules: [...new Set(targetModules)] };
}

/**
 * A PEFT LoRA adapter from its two files, ready for `ChatEngine.setAdapters`. Tensor names and
 * 2-D shapes are checked against the config here; shapes against the model when it is applied.
 * Modules listed in target_modules but absent from the file (e.g. `layers_to_transform`) get no term.
 * @throws {LoraAdapterError} for a malformed or unsupported adapter.
 */
export function loraFromSafetensors(bytes: Uint8Array, configJson: string | object): LoraTensors {
  const cfg = parseAdapterConfig(configJson);
  let file;
  try {
    // A plain Uint8Array view: Node's Buffer.slice() does not copy, which readSafetensors relies on.
    const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    file = readSafetensors(plain, {
      ...DEFAULT_SAFETENSORS_LIMITS,
      maxTotalBytes: LORA_LIMITS.maxValues * 4 + DEFAULT_SAFETENSORS_LIMITS.maxHeaderBytes,
      maxTensors: 7 * 2 * 1024,
    });
  } catch (cause) {
    throw new LoraAdapterError(`adapter_model.safetensors: ${(cause as Error).message}`, { cause });
  }
  const tensors = new Map<string, Float32Array>();
  const targets = new Set(cfg.targetModules);
  for (const [name, t] of file.tensors) {
    const p = parsePeftName(name);
    if (!p) throw new LoraAdapterError(`${JSON.stringify(name)} is not a PEFT LoRA tensor name`);
    if (!targets.has(p.module))
      throw new LoraAdapterError(`${name} targets ${p.module}, which is not in target_modules`);
    const [d0, d1] = t.shape;
    const ok = t.shape.length === 2 && (p.which === 'A' ? d0 === cfg.rank : d1 === cfg.rank);
    if (!ok)
      throw new LoraAdapterError(
        `${name} has shape [${t.shape.join(', ')}]; lora_${p.which} must be ${p.which === 'A' ? '[r, in]' : '[out, r]'} with r = ${cfg.rank}`,
      );
    tensors.set(name, t.data);
  }
  if (tensors.size === 0) throw new LoraAdapterError('adapter_model.safetensors holds no tensors');
  return { rank: cfg.rank, alpha: cfg.alpha, targetModules: cfg.targetModules, tensors };
}
