/**
 * Errors of LoRA adapters at inference. Registered so they keep their class across the worker
 * boundary (the widget branches on them).
 */
export { LoraAdapterError, LoraUnsupportedError } from '../../protocol/errors.ts';
