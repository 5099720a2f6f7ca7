/** Error classes: gpu and engine. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** No usable WebGPU adapter or device. */
export class GpuUnavailableError extends DureError {
  override name = 'GpuUnavailableError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GPU_UNAVAILABLE', message, options);
  }
}

/** A WGSL module failed to compile or a pipeline could not be created. */
export class ShaderError extends DureError {
  override name = 'ShaderError';
  constructor(message: string, options?: DureErrorOptions) {
    super('SHADER', message, options);
  }
}

/** The model needs more GPU memory or buffer size than the device allows. */
export class ModelTooLargeError extends DureError {
  override name = 'ModelTooLargeError';
  constructor(message: string, options?: DureErrorOptions) {
    super('MODEL_TOO_LARGE', message, options);
  }
}

/** The engine was used in the wrong state (no model loaded, disposed, busy). */
export class EngineStateError extends DureError {
  override name = 'EngineStateError';
  constructor(message: string, options?: DureErrorOptions) {
    super('ENGINE_STATE', message, options);
  }
}

/** A generation request outside what the engine supports (batch size, top-k, penalty list, profiling without timestamps). */
export class EngineRequestError extends DureError {
  override name = 'EngineRequestError';
  constructor(
    message: string,
    code: 'BATCH_SIZE' | 'TOP_K' | 'PENALTY_IDS' | 'NO_TIMESTAMPS' = 'BATCH_SIZE',
  ) {
    super(code, message);
  }
}

/** The prompt (or prompt plus answer) does not fit the model's context. */
export class ContextOverflowError extends DureError {
  override name = 'ContextOverflowError';
  constructor(message: string, options?: DureErrorOptions) {
    super('CONTEXT_OVERFLOW', message, options);
  }
}

/** A tensor the architecture needs is missing or has the wrong shape. */
export class ModelTensorError extends DureError {
  override name = 'ModelTensorError';
  constructor(message: string, options?: DureErrorOptions) {
    super('MODEL_TENSOR', message, options);
  }
}

/** The model architecture (or one of its features) has no implementation. */
export class UnsupportedArchitectureError extends DureError {
  override name = 'UnsupportedArchitectureError';
  constructor(message: string, options?: DureErrorOptions) {
    super('UNSUPPORTED_ARCHITECTURE', message, options);
  }
}

/** The model's hyperparameters are missing or inconsistent. */
export class ModelMetadataError extends DureError {
  override name = 'ModelMetadataError';
  constructor(message: string, options?: DureErrorOptions) {
    super('MODEL_METADATA', message, options);
  }
}

/** The model asks for a RoPE scaling type (longrope, an unknown one) that Dure does not apply exactly. */
export class UnsupportedRopeScalingError extends DureError {
  override name = 'UnsupportedRopeScalingError';
  constructor(message: string, options?: DureErrorOptions) {
    super('UNSUPPORTED_ROPE_SCALING', message, options);
  }
}

/** A tensor uses a weight type the GPU kernels do not run. */
export class UnsupportedWeightTypeError extends DureError {
  override name = 'UnsupportedWeightTypeError';
  constructor(message: string, options?: DureErrorOptions) {
    super('UNSUPPORTED_WEIGHT_TYPE', message, options);
  }
}

/** llama.cpp-in-WebAssembly failed to load the model or to generate. */
export class WasmEngineError extends DureError {
  override name = 'WasmEngineError';
  constructor(message: string, options?: DureErrorOptions) {
    super('WASM_ENGINE', message, options);
  }
}
