/**
 * Errors of the federated wire protocol, shared by the browser client and the server.
 * Each has a stable `code` and is registered so it survives worker boundaries.
 */
import { DureError, registerErrorClass } from '../engine/errors.ts';

/** A safetensors file is malformed, too large, or does not match what was expected. */
export class SafetensorsError extends DureError {
  override name = 'SafetensorsError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('SAFETENSORS', message, options);
  }
}

/** A request signature could not be produced or verified. */
export class SignatureError extends DureError {
  override name = 'SignatureError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('SIGNATURE', message, options);
  }
}

/** An adapter does not fit a task's LoRA configuration. */
export class AdapterShapeError extends DureError {
  override name = 'AdapterShapeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ADAPTER_SHAPE', message, options);
  }
}

registerErrorClass('SafetensorsError', SafetensorsError);
registerErrorClass('SignatureError', SignatureError);
registerErrorClass('AdapterShapeError', AdapterShapeError);
