import { DureError, registerErrorClass } from '../errors.ts';

/** llama.cpp-in-WebAssembly failed to load the model or to generate. */
export class WasmEngineError extends DureError {
  override name = 'WasmEngineError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('WASM_ENGINE', message, options);
  }
}
registerErrorClass('WasmEngineError', WasmEngineError);
