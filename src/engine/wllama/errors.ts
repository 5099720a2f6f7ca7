export { WasmEngineError } from '../../protocol/errors.ts';
