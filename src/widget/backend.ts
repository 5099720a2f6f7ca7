/**
 * Which engine runs: decided after a real WebGPU probe (adapter, a checked dispatch,
 * limits) and before any download. The WebGPU engine is used when the probe passes, the model fits
 * the adapter's limits and a WebGPU engine is available in this build; otherwise the same GGUF
 * runs on the CPU through llama.cpp in WebAssembly. The reason is shown to the citizen.
 */
import type { ProbeResult } from '../engine/gpu/probe.ts';

export type Backend = 'webgpu' | 'wasm-cpu';

export interface BackendDecision {
  backend: Backend | null;
  reason: { ko: string; en: string };
}

export interface DecideInput {
  /** The probe's result, or the error it threw. */
  probe: ProbeResult | Error;
  /** Size of the GGUF file when known (HEAD or stored), else 0. */
  modelBytes: number;
  webgpuEngineAvailable: boolean;
  wasmAvailable: boolean;
  /** The portal asked for the CPU path (`backend="wasm-cpu"`). */
  forceCpu?: boolean;
}

/**
 * The largest single buffer a model of this size needs is at most its biggest tensor (token
 * embeddings or the output head, a few tenths of the file at most for small models); halving the
 * file size is a conservative bound without parsing the GGUF.
 */
export function largestBufferEstimate(modelBytes: number): number {
  return Math.ceil(modelBytes / 2);
}

export function decideBackend(input: DecideInput): BackendDecision {
  const cpu = (ko: string, en: string): BackendDecision =>
    input.wasmAvailable
      ? {
          backend: 'wasm-cpu',
          reason: {
            ko: `${ko} CPU(WebAssembly)로 실행합니다.`,
            en: `${en} Running on the CPU (WebAssembly).`,
          },
        }
      : {
          backend: null,
          reason: {
            ko: `${ko} 이 브라우저는 WebAssembly도 지원하지 않아 실행할 수 없습니다. 최신 Chrome, Edge, Safari 또는 Firefox를 사용해 주세요.`,
            en: `${en} This browser has no WebAssembly either, so the model cannot run. Please use a current Chrome, Edge, Safari or Firefox.`,
          },
        };
  const p = input.probe;
  if (input.forceCpu) return cpu('이 포털의 설정에 따라', 'As configured by this portal.');
  if (p instanceof Error)
    return cpu('이 기기에서는 WebGPU를 쓸 수 없어', `WebGPU is not available here (${p.message}).`);
  if (!p.dispatchOk)
    return cpu('WebGPU 시험 계산 결과가 맞지 않아', 'The WebGPU test computation returned wrong results.');
  const need = largestBufferEstimate(input.modelBytes);
  if (need > p.maxStorageBufferBindingSize * 4 || need > p.maxBufferSize)
    return cpu(
      '그래픽 메모리 한도가 이 모델에 비해 작아',
      `The GPU's buffer limits (${p.maxBufferSize} bytes) are too small for this model.`,
    );
  if (!input.webgpuEngineAvailable)
    return cpu(
      'WebGPU는 사용할 수 있지만 이 빌드에는 Dure WebGPU 엔진이 아직 없어',
      'WebGPU works, but this build has no Dure WebGPU engine yet.',
    );
  return {
    backend: 'webgpu',
    reason: { ko: `WebGPU(${p.gpuAdapter})로 실행합니다.`, en: `Running on WebGPU (${p.gpuAdapter}).` },
  };
}

export function hasWasm(): boolean {
  return typeof WebAssembly === 'object' && typeof WebAssembly.instantiate === 'function';
}
