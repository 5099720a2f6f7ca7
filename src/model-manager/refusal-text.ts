/**
 * Plain words for "the WebGPU engine will not run this model file" (issue 16 item 1: say so
 * instead of silently switching path). The catalogue's text for these codes is generic; a person
 * is helped by the name of the format or architecture, which the error's technical message holds.
 */
import { errorText, type ErrorData } from '../protocol/errors.ts';
import { GgmlType } from '../engine/gguf/types.ts';

/**
 * llama.cpp's ggml type numbers Dure's reader does not know yet (ggml.h `enum ggml_type`), so an
 * unknown-type refusal can still name the format a model hub lists.
 */
const LLAMA_CPP_TYPE_NAMES: Readonly<Record<number, string>> = {
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  29: 'IQ1_M',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
};

/** The ggml type a refusal names (`weight type Q5_0 …`, `… unknown ggml type 16`), or null. */
export function refusedTypeName(message: string): string | null {
  const named = /weight type ([A-Za-z0-9_]+)/.exec(message);
  if (named) return named[1]!;
  const numbered = /ggml (?:tensor )?type (\d+)/.exec(message);
  if (numbered) {
    const n = Number(numbered[1]);
    return LLAMA_CPP_TYPE_NAMES[n] ?? GgmlType[n] ?? `type ${n}`;
  }
  return null;
}

/** The architecture a refusal names (`architecture "mamba" is not supported`), or null. */
export function refusedArchitecture(message: string): string | null {
  return /architecture "([^"]+)"/.exec(message)?.[1] ?? null;
}

/**
 * What a person is told about an error, in `lang`: for a model the engine refuses, which format
 * or architecture and what the operator can do; otherwise the catalogue's text for the code.
 * `operator` words it for the person running `dure models add` or `npm start` rather than a
 * citizen in the widget.
 */
export function refusalText(
  e: Pick<ErrorData, 'code' | 'message'>,
  lang: 'ko' | 'en',
  audience: 'citizen' | 'operator' = 'citizen',
): string {
  if (audience === 'operator') {
    const what =
      e.code === 'UNSUPPORTED_WEIGHT_TYPE' || e.code === 'GGUF_UNKNOWN_TYPE'
        ? refusedTypeName(e.message)
        : e.code === 'UNSUPPORTED_ARCHITECTURE' || e.code === 'GGUF_UNKNOWN_ARCH'
          ? refusedArchitecture(e.message)
          : null;
    if (what)
      return lang === 'ko'
        ? `이 모델 파일(${what})은 두레의 WebGPU 엔진이 아직 실행하지 못합니다. 지원되는 구조와 형식의 파일(npx dure models 참고)을 쓰거나, CPU로 실행하려면 위젯에 backend="wasm-cpu"를 지정하세요.`
        : `Dure's WebGPU engine cannot run this model file (${what}) yet. Use a file of a supported architecture and format (see npx dure models), or set backend="wasm-cpu" on the widget to run it on the CPU.`;
  }
  if (e.code === 'UNSUPPORTED_WEIGHT_TYPE' || e.code === 'GGUF_UNKNOWN_TYPE') {
    const t = refusedTypeName(e.message);
    if (t)
      return lang === 'ko'
        ? `이 모델 파일의 형식(${t})은 지원하지 않아 그래픽 처리장치(WebGPU)로 실행할 수 없습니다. 포털 운영자에게 알려 주세요. ` +
            `(운영자: 지원되는 형식으로 양자화된 파일을 쓰거나, CPU 실행을 원하면 backend="wasm-cpu"로 명시하세요.)`
        : `This model file's format (${t}) is not supported, so it cannot run on the graphics processor (WebGPU). Please tell the portal's operator. ` +
            `(Operators: use a file quantized in a supported format, or ask for the CPU path explicitly with backend="wasm-cpu".)`;
  }
  if (e.code === 'UNSUPPORTED_ARCHITECTURE' || e.code === 'GGUF_UNKNOWN_ARCH') {
    const a = refusedArchitecture(e.message);
    if (a)
      return lang === 'ko'
        ? `이 모델의 구조(${a})는 아직 지원하지 않아 그래픽 처리장치(WebGPU)로 실행할 수 없습니다. 포털 운영자에게 알려 주세요. ` +
            `(운영자: 지원되는 모델을 쓰거나, CPU 실행을 원하면 backend="wasm-cpu"로 명시하세요.)`
        : `This model's architecture (${a}) is not supported yet, so it cannot run on the graphics processor (WebGPU). Please tell the portal's operator. ` +
            `(Operators: use a supported model, or ask for the CPU path explicitly with backend="wasm-cpu".)`;
  }
  return errorText(e.code, lang);
}
