/**
 * No silent fallback (issue 16 item 1): when the WebGPU engine refuses the model file — here the
 * engine's own refusal, thrown by the weight layout for a type with no kernel, and the same error
 * after crossing the worker boundary as data — the SDK surfaces it instead of switching to the CPU;
 * other load failures still move to the CPU path with the reason shown.
 */
import { describe, expect, it } from 'vitest';
import { GgmlType } from '../engine/gguf/types.ts';
import { KNOWN_GGML_TYPES } from '../engine/gguf/quant/traits.ts';
import { GPU_WEIGHT_TYPES, gpuQuantRow } from '../engine/gpu/weight-layout.ts';
import { modelConfig } from '../engine/model/config.ts';
import type { GgufFile } from '../engine/gguf/types.ts';
import { refusalText } from '../model-manager/refusal-text.ts';
import {
  fromErrorData,
  ModelTooLargeError,
  NoBackendError,
  toErrorData,
  UnsupportedArchitectureError,
  UnsupportedWeightTypeError,
} from '../protocol/errors.ts';
import { cpuFallbackAfter, isModelRefusal } from './gpu-refusal.ts';

const auto = { backend: 'webgpu' as const, requested: 'auto' as const, wasmAvailable: true };

function engineRefusal(): { error: unknown; type: string } {
  const gpu = new Set<number>(GPU_WEIGHT_TYPES);
  const type = KNOWN_GGML_TYPES.find((t) => !gpu.has(t))!;
  try {
    gpuQuantRow(type);
  } catch (e) {
    return { error: e, type: GgmlType[type]! };
  }
  throw new Error(`gpuQuantRow accepted ${GgmlType[type]}`);
}

describe('cpuFallbackAfter', () => {
  it('rethrows the engine refusing a tensor type, also after a trip through the worker boundary', () => {
    const { error, type } = engineRefusal();
    expect(error).toBeInstanceOf(UnsupportedWeightTypeError);
    expect(() => cpuFallbackAfter(error, auto)).toThrow(error as Error);
    const rebuilt = fromErrorData(toErrorData(error));
    expect(rebuilt).toBeInstanceOf(UnsupportedWeightTypeError);
    expect(isModelRefusal(rebuilt)).toBe(true);
    expect(() => cpuFallbackAfter(rebuilt, auto)).toThrow(UnsupportedWeightTypeError);
    expect(refusalText(toErrorData(rebuilt), 'ko')).toContain(`이 모델 파일의 형식(${type})은 지원하지 않아`);
    expect(refusalText(toErrorData(rebuilt), 'en')).toContain(`format (${type}) is not supported`);
  });

  it('rethrows the engine refusing an architecture', () => {
    const file = {
      metadata: new Map([['general.architecture', { type: 8, value: 'mamba' }]]),
      tensors: [],
    } as unknown as GgufFile;
    let error: unknown;
    try {
      modelConfig(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnsupportedArchitectureError);
    expect(() => cpuFallbackAfter(error, auto)).toThrow(UnsupportedArchitectureError);
    expect(refusalText(toErrorData(error), 'ko')).toContain('이 모델의 구조(mamba)는 아직 지원하지 않아');
  });

  it('moves other load failures to the CPU and says why', () => {
    const d = cpuFallbackAfter(new ModelTooLargeError('the GPU ran out of memory'), auto);
    expect(d.backend).toBe('wasm-cpu');
    expect(d.reason.ko).toBe(
      'WebGPU 엔진이 이 기기에서 모델을 불러오지 못했습니다 (the GPU ran out of memory).',
    );
    expect(d.reason.en).toContain('the GPU ran out of memory');
    expect(cpuFallbackAfter(new NoBackendError('worker died'), auto).backend).toBe('wasm-cpu');
  });

  it('never falls back when the portal asked for WebGPU or there is no WebAssembly', () => {
    const e = new ModelTooLargeError('x');
    expect(() => cpuFallbackAfter(e, { ...auto, requested: 'webgpu' })).toThrow(e);
    expect(() => cpuFallbackAfter(e, { ...auto, wasmAvailable: false })).toThrow(e);
  });
});

describe('refusalText', () => {
  it('names a format the reader does not know by its llama.cpp name', () => {
    const text = refusalText(
      { code: 'GGUF_UNKNOWN_TYPE', message: 'tensor blk.0.attn_q.weight has unknown ggml type 16' },
      'ko',
    );
    expect(text).toContain('형식(IQ2_XXS)');
  });

  it("falls back to the catalogue's words for other codes", () => {
    expect(refusalText({ code: 'MODEL_TOO_LARGE', message: '' }, 'ko')).toBe(
      '이 기기에서 실행하기에는 모델이 너무 큽니다.',
    );
  });
});
