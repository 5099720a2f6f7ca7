/** Error classes: gpu and engine. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** No usable WebGPU adapter or device. */
export class GpuUnavailableError extends DureError {
  override name = 'GpuUnavailableError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GPU_UNAVAILABLE', message, options);
  }
}

/**
 * The GPU device was lost (driver reset, GPU process crash) and the engine could not carry on:
 * no way to get a new device was given, getting one failed, or it was lost again too soon.
 */
export class GpuDeviceLostError extends DureError {
  override name = 'GpuDeviceLostError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GPU_DEVICE_LOST', message, options);
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

/**
 * A tensor uses a weight type the GPU kernels do not run. When raised for a tensor of a model being
 * loaded it names both (`tensor`, `weightType`, e.g. `IQ2_XXS`), and `describe(lang)` says so plainly.
 */
export class UnsupportedWeightTypeError extends DureError {
  override name = 'UnsupportedWeightTypeError';
  /** The tensor holding the type, when known. */
  tensor?: string;
  /** ggml's name of the type, upper case (`IQ2_XXS`), when known. */
  weightType?: string;
  constructor(message: string, options?: DureErrorOptions & { tensor?: string; weightType?: string }) {
    super('UNSUPPORTED_WEIGHT_TYPE', message, options);
    if (options?.tensor !== undefined) this.tensor = options.tensor;
    if (options?.weightType !== undefined) this.weightType = options.weightType;
  }

  /** What a person is shown when the tensor and its type are known (else use `errorText(code)`). */
  describe(lang: 'ko' | 'en'): string | undefined {
    if (this.tensor === undefined || this.weightType === undefined) return undefined;
    return lang === 'ko'
      ? `텐서 ${this.tensor}의 형식 ${this.weightType}는 지원하지 않습니다.`
      : `Tensor ${this.tensor} has type ${this.weightType}, which is not supported.`;
  }
}

/** llama.cpp-in-WebAssembly failed to load the model or to generate. */
export class WasmEngineError extends DureError {
  override name = 'WasmEngineError';
  constructor(message: string, options?: DureErrorOptions) {
    super('WASM_ENGINE', message, options);
  }
}
