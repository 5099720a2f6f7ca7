/**
 * `dure detokenize --model F.gguf --ids 1,2,3 [--skip-special] [--json]`
 *
 * Prints the text of the ids as llama.cpp's `llama_detokenize` produces it (special tokens shown
 * as their text unless `--skip-special`). Bytes that do not form valid UTF-8 (an id list cut in
 * the middle of a character) appear as U+FFFD. Output: `{"text":"..."}` with --json, else the text.
 */
import { createTokenizer } from '../../engine/tokenizer/tokenizer.ts';
import { CliArgsError, parseIdList, readModelMetadata, reportError, parseCliArgs } from '../args.ts';
import { toArgsError } from './tokenize.ts';

const HELP = `사용법 / usage: dure detokenize --model F.gguf --ids 1,2,3 [options]

  --model F.gguf     GGUF 모델 파일 / model file
  --ids 1,2,3        토큰 ID 목록(쉼표·공백 구분 또는 JSON 배열) / ids: comma/space separated or a JSON array
  --skip-special     특수 토큰 생략 / leave out special tokens (and a leading BOS)
  --json             {"text":"..."} 출력 / print {"text":"..."}
`;

export async function run(argv: string[]): Promise<number> {
  try {
    const { values: v } = parseCliArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        ids: { type: 'string' },
        'skip-special': { type: 'boolean', default: false },
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
    if (v.ids === undefined) throw new CliArgsError('--ids is required');
    const ids = parseIdList(v.ids);
    const tokenizer = createTokenizer(await readModelMetadata(v.model));
    const text = tokenizer.decode(ids, { skipSpecial: v['skip-special'] });
    process.stdout.write(v.json ? `${JSON.stringify({ text })}\n` : text.endsWith('\n') ? text : `${text}\n`);
    return 0;
  } catch (e) {
    return reportError(toArgsError(e));
  }
}
