/**
 * What happens when Dure's WebGPU engine fails to load a model (issue 16 item 1: no silent
 * fallback). A model the engine refuses for what the file *is* — its architecture or a tensor
 * type — is surfaced as that typed error, in plain words naming the format: running it on the CPU
 * instead would hide from the operator that their file does not suit the GPU path, and would be
 * many times slower for citizens without anyone having chosen that. The CPU path runs such a file
 * only when the portal asks for it (`backend="wasm-cpu"`), and then the widget says so. Other load
 * failures (the engine's worker dying, a GPU out of memory) still move to the CPU path, with the
 * reason shown next to "Runs on: CPU".
 */
import { DureError } from '../protocol/errors.ts';
import type { BackendDecision } from '../widget/backend.ts';

/** Codes that mean "this file is not something the WebGPU engine runs". */
export const MODEL_REFUSAL_CODES: ReadonlySet<string> = new Set([
  'UNSUPPORTED_WEIGHT_TYPE',
  'UNSUPPORTED_ARCHITECTURE',
  'GGUF_UNKNOWN_TYPE',
  'GGUF_UNKNOWN_ARCH',
]);

/** Whether `e` is the WebGPU engine refusing the model file itself. */
export function isModelRefusal(e: unknown): e is DureError {
  return e instanceof DureError && MODEL_REFUSAL_CODES.has(e.code);
}

export interface FallbackContext {
  /** The path that failed. */
  backend: BackendDecision['backend'];
  /** What the portal asked for. */
  requested: 'auto' | 'webgpu' | 'wasm-cpu' | undefined;
  wasmAvailable: boolean;
}

/**
 * The CPU decision to continue with after the WebGPU engine failed to load, shown to the citizen;
 * or rethrows `e` when there is no fallback: the file was refused, the portal asked for WebGPU
 * only, or there is no WebAssembly.
 * @throws the load error `e` itself (its class kept).
 */
export function cpuFallbackAfter(e: unknown, ctx: FallbackContext): BackendDecision {
  if (ctx.backend !== 'webgpu' || ctx.requested === 'webgpu' || !ctx.wasmAvailable) throw e;
  if (isModelRefusal(e)) throw e;
  const why = e instanceof Error ? e.message : String(e);
  return {
    backend: 'wasm-cpu',
    reason: {
      ko: `WebGPU 엔진이 이 기기에서 모델을 불러오지 못했습니다 (${why}).`,
      en: `The WebGPU engine could not load the model on this device (${why}).`,
    },
  };
}
