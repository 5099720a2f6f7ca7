/**
 * Which engine runs: decided after a real WebGPU probe (adapter, a checked dispatch,
 * limits) and before any download. The WebGPU engine is used when the probe passes, the model fits
 * the adapter's limits and a WebGPU engine is available in this build; otherwise the same GGUF
 * runs on the CPU through llama.cpp in WebAssembly. The reason is shown to the citizen.
 *
 * A reason says why, in whole sentences, and does not name the path again: the widget shows it
 * under its own "실행 방식: CPU(WebAssembly)" line, and `backend` tells an SDK caller the path.
 */
import type { ProbeResult } from '../engine/gpu/probe.ts';
import type { DecodeMeasurement } from './backend-measure.ts';

export type Backend = 'webgpu' | 'wasm-cpu';

/** What the two paths measured on this device (issue 21 item 4). */
export interface Measured {
  /** Null when the WebGPU engine did not load (the reason says why). */
  gpu: DecodeMeasurement | null;
  /** Null when the CPU path was not run: the GPU beat `cpuBound`, or llama.cpp did not load. */
  cpu: DecodeMeasurement | null;
  /** The most tokens per second the CPU path could reach for this model (backend-measure.ts). */
  cpuBound: number | null;
  /** The WebGPU adapter is a software emulation. */
  software: boolean;
  /** Read from this device's earlier measurement instead of measured now. */
  cached: boolean;
}

export interface BackendDecision {
  backend: Backend | null;
  /** Why this path, in whole sentences that do not repeat the path's name (empty when unknown). */
  reason: { ko: string; en: string };
  /** Present when the choice was measured (backend "auto" with both paths available). */
  measured?: Measured;
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
  /** Why not WebGPU; without WebAssembly as well, why nothing runs (no path line is shown then). */
  const cpu = (ko: string, en: string): BackendDecision =>
    input.wasmAvailable
      ? { backend: 'wasm-cpu', reason: { ko, en } }
      : {
          backend: null,
          reason: {
            ko: `${ko} 이 브라우저는 WebAssembly를 지원하지 않아 모델을 실행할 수 없습니다. 최신 Chrome, Edge, Safari 또는 Firefox를 사용해 주세요.`,
            en: `${en} This browser has no WebAssembly, so the model cannot run. Please use a current Chrome, Edge, Safari or Firefox.`,
          },
        };
  const p = input.probe;
  if (input.forceCpu)
    return input.wasmAvailable
      ? cpu('이 포털이 정한 방식입니다.', 'Set by this portal.')
      : cpu(
          '이 포털은 CPU(WebAssembly)로만 실행하도록 정해 두었습니다.',
          'This portal runs the model on the CPU (WebAssembly) only.',
        );
  if (p instanceof Error)
    return cpu('이 기기에서는 WebGPU를 쓸 수 없습니다.', `WebGPU is not available here (${p.message}).`);
  if (!p.dispatchOk)
    return cpu(
      'WebGPU 시험 계산의 결과가 틀렸습니다.',
      'The WebGPU test computation returned wrong results.',
    );
  const need = largestBufferEstimate(input.modelBytes);
  if (need > p.maxStorageBufferBindingSize * 4 || need > p.maxBufferSize)
    return cpu(
      '그래픽 메모리 한도가 이 모델에 비해 작습니다.',
      `The GPU's buffer limits (${p.maxBufferSize} bytes) are too small for this model.`,
    );
  if (!input.webgpuEngineAvailable)
    return cpu(
      'WebGPU는 쓸 수 있지만 이 빌드에는 Dure의 WebGPU 엔진이 없습니다.',
      'WebGPU works, but this build has no Dure WebGPU engine yet.',
    );
  return {
    backend: 'webgpu',
    reason: {
      ko: `이 기기의 그래픽 처리장치(${p.gpuAdapter})가 시험 계산을 통과했습니다.`,
      en: `This device's graphics processor (${p.gpuAdapter}) passed a test computation.`,
    },
  };
}

export function hasWasm(): boolean {
  return typeof WebAssembly === 'object' && typeof WebAssembly.instantiate === 'function';
}

/** Tokens per second as people read them: one decimal below 10, whole numbers above. */
export function formatRate(tps: number): string {
  if (!Number.isFinite(tps)) return '∞';
  return tps < 10 ? tps.toFixed(1) : String(Math.round(tps));
}

function rate(m: DecodeMeasurement, lang: 'ko' | 'en'): string {
  const r = formatRate(m.tokensPerSecond);
  // A run cut off at its deadline only tells how fast it was at most.
  return m.complete ? r : lang === 'ko' ? `${r} 이하` : `at most ${r}`;
}

/**
 * The decision and its reason, in plain Korean and English, once the paths were measured:
 * "이 기기에서는 CPU 경로가 더 빠릅니다 (측정: GPU 0.8, CPU 40 토큰/초)".
 */
export function measuredDecision(
  backend: Backend,
  m: Measured,
  adapter: string,
  notes: { gpuError?: string; cpuError?: string } = {},
): BackendDecision {
  const ko: string[] = [];
  const en: string[] = [];
  if (m.software) {
    ko.push(`이 기기의 WebGPU는 그래픽 하드웨어가 아닌 소프트웨어(${adapter})로 동작합니다.`);
    en.push(`This device's WebGPU is a software emulation (${adapter}).`);
  }
  const g = m.gpu;
  const c = m.cpu;
  if (notes.gpuError) {
    ko.push(`WebGPU 엔진이 이 기기에서 모델을 실행하지 못했습니다 (${notes.gpuError}).`);
    en.push(`The WebGPU engine could not run the model on this device (${notes.gpuError}).`);
  } else if (notes.cpuError) {
    ko.push(`CPU(WebAssembly) 경로가 이 기기에서 모델을 실행하지 못했습니다 (${notes.cpuError}).`);
    en.push(`The CPU (WebAssembly) path could not run the model on this device (${notes.cpuError}).`);
  }
  const measuredKo: string[] = [];
  const measuredEn: string[] = [];
  if (g) {
    measuredKo.push(`GPU ${rate(g, 'ko')}`);
    measuredEn.push(`GPU ${rate(g, 'en')}`);
  }
  if (c) {
    measuredKo.push(`CPU ${rate(c, 'ko')}`);
    measuredEn.push(`CPU ${rate(c, 'en')}`);
  } else if (g && m.cpuBound !== null) {
    measuredKo.push(`CPU 최대 ${formatRate(m.cpuBound)}`);
    measuredEn.push(`CPU at most ${formatRate(m.cpuBound)}`);
  }
  const when = m.cached
    ? { ko: '이 기기에서 이전에 측정', en: 'measured earlier on this device' }
    : { ko: '측정', en: 'measured' };
  const figures =
    measuredKo.length > 0
      ? {
          ko: ` (${when.ko}: ${measuredKo.join(', ')} 토큰/초)`,
          en: ` (${when.en}: ${measuredEn.join(', ')} tokens/s)`,
        }
      : { ko: '', en: '' };
  if (g && (c || m.cpuBound !== null)) {
    if (backend === 'wasm-cpu') {
      ko.push(`이 기기에서는 CPU 경로가 더 빠릅니다${figures.ko}.`);
      en.push(`The CPU path is faster on this device${figures.en}.`);
    } else {
      ko.push(`이 기기에서는 GPU 경로가 더 빠릅니다${figures.ko}.`);
      en.push(`The GPU path is faster on this device${figures.en}.`);
    }
  } else if (measuredKo.length > 0) {
    ko.push(`${when.ko}: ${measuredKo.join(', ')} 토큰/초.`);
    en.push(`${when.en[0]!.toUpperCase()}${when.en.slice(1)}: ${measuredEn.join(', ')} tokens/s.`);
  }
  // The path itself is on the line above the reason; only the graphics processor's name is new
  // (a software adapter was named in the first sentence).
  if (backend === 'webgpu' && !m.software) {
    ko.push(`그래픽 처리장치: ${adapter}.`);
    en.push(`Graphics processor: ${adapter}.`);
  }
  return { backend, reason: { ko: ko.join(' '), en: en.join(' ') }, measured: m };
}

/**
 * The faster path from what was measured. A run cut off at its deadline counts with its upper
 * bound. A software adapter wins only with a complete run faster than the CPU's (issue 21: Chromium's
 * SwiftShader decoded at 0.83 tok/s where llama.cpp in WebAssembly decoded the same file at 46.8);
 * a real GPU keeps a tie.
 */
export function pickMeasured(m: Pick<Measured, 'gpu' | 'cpu' | 'cpuBound' | 'software'>): Backend {
  const { gpu, cpu } = m;
  if (!gpu) return 'wasm-cpu';
  if (!cpu) return m.cpuBound === null || gpuBeatsCpuBound(gpu, m.cpuBound) ? 'webgpu' : 'wasm-cpu';
  if (m.software) return gpu.complete && gpu.tokensPerSecond > cpu.tokensPerSecond ? 'webgpu' : 'wasm-cpu';
  return gpu.tokensPerSecond >= cpu.tokensPerSecond ? 'webgpu' : 'wasm-cpu';
}

/** The GPU decoded faster than the CPU path possibly could: no need to load llama.cpp at all. */
export function gpuBeatsCpuBound(gpu: DecodeMeasurement, cpuBound: number): boolean {
  return gpu.complete && gpu.tokensPerSecond > cpuBound;
}
