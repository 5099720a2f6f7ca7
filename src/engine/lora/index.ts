/** LoRA adapters at inference: PEFT file parsing, validation and errors (see adapter.ts). */
export { loraFromSafetensors, parseAdapterConfig, type PeftLoraConfig } from './peft.ts';
export { LORA_LIMITS, LORA_MODULES, validateAdapter, type LoraModule } from './adapter.ts';
export { LoraAdapterError, LoraUnsupportedError } from './errors.ts';
export { applyAdapters, supportsAdapters } from './apply.ts';
