/**
 * `dure <command> [options]` — dispatches to `src/cli/commands/<command>.ts`, each exporting
 * `run(argv: string[]): Promise<number>`. Commands are imported lazily so that e.g. `tokenize`
 * never loads the GPU engine; add a command by adding an entry to COMMANDS.
 */
import { CliArgsError, CliCommandUnavailableError, reportError } from './args.ts';

interface CommandEntry {
  file: string;
  ko: string;
  en: string;
}

export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  inspect: {
    file: 'inspect.ts',
    ko: 'GGUF 모델 정보(아키텍처, 크기, 양자화, 토크나이저, 템플릿)',
    en: 'show a GGUF model: architecture, sizes, quant types, tokenizer, chat template',
  },
  tokenize: {
    file: 'tokenize.ts',
    ko: '텍스트 파일을 토큰 ID로 변환',
    en: 'text file → token ids (llama.cpp-exact)',
  },
  detokenize: { file: 'detokenize.ts', ko: '토큰 ID를 텍스트로 변환', en: 'token ids → text' },
  generate: {
    file: 'generate.ts',
    ko: '모델로 텍스트 생성 (WebGPU)',
    en: 'generate text with the model (WebGPU)',
  },
  logits: {
    file: 'logits.ts',
    ko: '프롬프트의 로짓 출력 (WebGPU)',
    en: 'print the logits of a prompt (WebGPU)',
  },
  kb: {
    file: 'kb.ts',
    ko: '포털 문서로 지식 베이스(kb.json) 만들기·검색 품질 측정 (kb build / kb eval)',
    en: "build a portal's knowledge base (kb.json) from its documents; measure retrieval (kb build / kb eval)",
  },
  ask: {
    file: 'ask.ts',
    ko: '위젯과 똑같이 지식 베이스 근거로 답하기 (출처, 거절 포함)',
    en: 'answer from the knowledge base exactly as the widget does (citations, refusals)',
  },
  eval: {
    file: 'eval.ts',
    ko: '근거 답변 평가: 출처 정확도, 거절 정밀도·재현율, 유해 차단율, 오차단율, 한국어 비율, 지연',
    en: 'evaluate grounded answers: citation accuracy, refusal P/R, harmful-block and false-block rates, Korean share, latency',
  },
  airgap: {
    file: 'airgap.ts',
    ko: '망연계(망분리) 기관: 보안 라운드를 파일로 참여 (init/step, 운영자 import/export)',
    en: 'air-gapped institutions: take part in a secure round by file (init/step; operator import/export)',
  },
  models: {
    file: 'models.ts',
    ko: '추천 한국어 모델 목록(라이선스, 크기, SHA-256) / models add: 내려받은 GGUF 검사·데모 포털 등록',
    en: 'recommended Korean models (licence, size, SHA-256); models add: check a downloaded GGUF and register it for the demo portal',
  },
  'lora-to-gguf': {
    file: 'lora-to-gguf.ts',
    ko: 'PEFT LoRA 어댑터를 llama.cpp용 GGUF로 변환',
    en: 'convert a PEFT LoRA adapter to llama.cpp LoRA GGUF',
  },
};

export function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(
    ([name, c]) => `  ${name.padEnd(width)}  ${c.ko}\n  ${' '.repeat(width)}  ${c.en}`,
  );
  return [
    '두레(Dure) 명령줄 도구 / Dure command line',
    '',
    '사용법 / usage: npx dure <command> [options]   (npx dure <command> --help)',
    '',
    '명령 / commands:',
    ...lines,
    '',
    '오류는 stderr에 "error <CODE>: 메시지" 형식으로 출력되고 종료 코드는 0이 아닙니다.',
    'Errors are printed on stderr as "error <CODE>: message" with a non-zero exit code.',
    '',
  ].join('\n');
}

interface CommandModule {
  run(argv: string[]): Promise<number>;
}

/** Loads a command's module. @throws {CliArgsError} when the command is unknown or not installed. */
async function loadCommand(name: string): Promise<CommandModule> {
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) throw new CliArgsError(`unknown command ${JSON.stringify(name)}; see "dure --help"`);
  let mod: unknown;
  try {
    mod = await import(new URL(`./commands/${entry.file}`, import.meta.url).href);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(entry.file)) {
      throw new CliCommandUnavailableError(
        `command "${name}" is not available in this build (missing ${entry.file})`,
      );
    }
    throw e;
  }
  const run = (mod as Partial<CommandModule>).run;
  if (typeof run !== 'function') throw new CliArgsError(`command "${name}" has no run() export`);
  return { run };
}

/** Runs the command line and returns the process exit code; never throws. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(helpText());
    return name === undefined ? 2 : 0;
  }
  try {
    const cmd = await loadCommand(name);
    return await cmd.run(rest);
  } catch (e) {
    return reportError(e);
  }
}
