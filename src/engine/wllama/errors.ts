import { WasmEngineError } from '../../protocol/errors.ts';
export { WasmEngineError };
