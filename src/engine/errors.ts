/**
 * Every error Dure raises on purpose is a `DureError` with a stable `code`.
 * Errors cross worker and process boundaries as plain data (see `toErrorData`)
 * and are rebuilt as the same class on the other side, so callers can branch on
 * `instanceof` or `code` instead of parsing messages.
 */
export class DureError extends Error {
  override name = 'DureError';
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** No usable WebGPU adapter or device. */
export class GpuUnavailableError extends DureError {
  override name = 'GpuUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('GPU_UNAVAILABLE', message, options);
  }
}

/** A WGSL module failed to compile or a pipeline could not be created. */
export class ShaderError extends DureError {
  override name = 'ShaderError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('SHADER', message, options);
  }
}

/** Wire form of an error: what survives `postMessage` and JSON. */
export interface ErrorData {
  name: string;
  code: string;
  message: string;
}

const registry = new Map<string, new (message: string) => DureError>();

/** Lets `fromErrorData` rebuild a subclass whose constructor takes only a message. */
export function registerErrorClass(name: string, ctor: new (message: string) => DureError): void {
  registry.set(name, ctor);
}
registerErrorClass('GpuUnavailableError', GpuUnavailableError);
registerErrorClass('ShaderError', ShaderError);

export function toErrorData(err: unknown): ErrorData {
  if (err instanceof DureError) return { name: err.name, code: err.code, message: err.message };
  if (err instanceof Error) return { name: err.name, code: 'INTERNAL', message: err.message };
  return { name: 'Error', code: 'INTERNAL', message: String(err) };
}

export function fromErrorData(data: ErrorData): DureError {
  const ctor = registry.get(data.name);
  if (ctor) {
    const e = new ctor(data.message);
    return e;
  }
  const e = new DureError(data.code, data.message);
  e.name = data.name;
  return e;
}
