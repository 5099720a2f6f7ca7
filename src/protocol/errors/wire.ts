/** Error classes: federated wire protocol. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** A safetensors file is malformed, too large, or does not match what was expected. */
export class SafetensorsError extends DureError {
  override name = 'SafetensorsError';
  constructor(message: string, options?: DureErrorOptions) {
    super('SAFETENSORS', message, options);
  }
}

/** A request signature could not be produced or verified. */
export class SignatureError extends DureError {
  override name = 'SignatureError';
  constructor(message: string, options?: DureErrorOptions) {
    super('SIGNATURE', message, options);
  }
}

/** An adapter does not fit a task's LoRA configuration. */
export class AdapterShapeError extends DureError {
  override name = 'AdapterShapeError';
  constructor(message: string, options?: DureErrorOptions) {
    super('ADAPTER_SHAPE', message, options);
  }
}
