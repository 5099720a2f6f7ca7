/**
 * Errors of LoRA adapters at inference. Registered so they keep their class across the worker
 * boundary (the widget branches on them).
 */
import { DureError, registerErrorClass } from '../errors.ts';

/** An adapter is malformed or does not fit the loaded model (names, shapes, values, sizes). */
export class LoraAdapterError extends DureError {
  override name = 'LoraAdapterError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('LORA_ADAPTER', message, options);
  }
}

/** The running backend cannot apply adapters (the wllama CPU fallback). */
export class LoraUnsupportedError extends DureError {
  override name = 'LoraUnsupportedError';
  constructor(message: string) {
    super('LORA_UNSUPPORTED', message);
  }
}

registerErrorClass('LoraAdapterError', LoraAdapterError);
registerErrorClass('LoraUnsupportedError', LoraUnsupportedError);
