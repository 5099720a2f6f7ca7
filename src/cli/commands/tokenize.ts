/**
 * `dure tokenize --model F.gguf (--text-file T | --text S) [--add-bos] [--no-parse-special] [--json]`
 *
 * Prints the token ids of the text exactly as llama.cpp tokenizes it. Like llama.cpp's
 * `llama-tokenize`, special-token text in the input (e.g. `<|im_start|>`) becomes the special
 * token unless `--no-parse-special` is given, and no BOS is added unless `--add-bos`.
 * Output: `{"ids":[...]}` with --json, else the ids comma-separated on one line.
 */
import { createTokenizer } from '../../engine/tokenizer/tokenizer.ts';
import { CliArgsError, readModelMetadata, readTextFile, reportError, parseCliArgs } from '../args.ts';

const HELP = `사용법 / usage: dure tokenize --model F.gguf (--text-file T | --text S) [options]

  --model F.gguf        GGUF 모델 파일 / model file
  --text-file T         토큰화할 UTF-8 텍스트 파일(끝의 줄바꿈 포함) / UTF-8 text file, taken as is
  --text S              파일 대신 문자열 / a string instead of a file
  --add-bos             BOS 토큰 추가(기본: 추가 안 함) / prepend BOS (default: no)
  --no-parse-special    특수 토큰 문자열을 일반 텍스트로 처리 / treat special-token text as text
  --json                {"ids":[...]} 출력 / print {"ids":[...]}
`;

export async function run(argv: string[]): Promise<number> {
  try {
    const { values: v } = parseCliArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        'text-file': { type: 'string' },
        text: { type: 'string' },
        'add-bos': { type: 'boolean', default: false },
        'no-parse-special': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (v.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (!v.model) throw new CliArgsError('--model is required');
    if ((v['text-file'] === undefined) === (v.text === undefined)) {
      throw new CliArgsError('give exactly one of --text-file or --text');
    }
    const text = v['text-file'] !== undefined ? await readTextFile(v['text-file']) : (v.text ?? '');
    const tokenizer = createTokenizer(await readModelMetadata(v.model));
    const ids = tokenizer.encode(text, { addBos: v['add-bos'], parseSpecial: !v['no-parse-special'] });
    process.stdout.write(v.json ? `${JSON.stringify({ ids })}\n` : `${ids.join(',')}\n`);
    return 0;
  } catch (e) {
    return reportError(toArgsError(e));
  }
}

/** node:util parseArgs errors (unknown option, missing value) are usage errors. */
export function toArgsError(e: unknown): unknown {
  const code = (e as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))
    return new CliArgsError((e as Error).message);
  return e;
}
