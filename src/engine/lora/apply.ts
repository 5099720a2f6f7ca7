/**
 * Applying adapters through the ChatEngine interface, whichever backend runs: the WebGPU engine
 * (in a worker or not) implements `setAdapters`; the wllama CPU fallback does not.
 */
import type { ChatEngine, EngineAdapter } from '../api.ts';
import { LoraUnsupportedError } from './errors.ts';

/** Whether `engine` can apply LoRA adapters (the WebGPU engine can, the CPU fallback cannot). */
export function supportsAdapters(
  engine: ChatEngine,
): engine is ChatEngine & Required<Pick<ChatEngine, 'setAdapters'>> {
  return typeof engine.setAdapters === 'function';
}

/**
 * Sets the engine's adapters (empty list: the base model).
 * @throws {LoraUnsupportedError} when the backend cannot apply adapters (an empty list is then a no-op).
 * @throws {import('./errors.ts').LoraAdapterError} when an adapter does not fit the model.
 */
export async function applyAdapters(engine: ChatEngine, adapters: EngineAdapter[]): Promise<void> {
  if (supportsAdapters(engine)) return engine.setAdapters(adapters);
  if (adapters.length === 0) return;
  throw new LoraUnsupportedError(
    'LoRA 어댑터는 WebGPU 엔진에서만 적용됩니다 / LoRA adapters need the WebGPU engine; the CPU fallback runs the base model',
  );
}
