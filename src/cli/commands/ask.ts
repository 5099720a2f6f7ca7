/**
 * `dure ask --model M.gguf --kb kb.json (--question TEXT | --questions FILE.jsonl)
 *           [--max-tokens N] [--system-prompt TEXT] [--lang ko|en] [--greedy | --temperature T --seed S] [--json]`
 * Answers as the widget does (same guard, retrieval, prompt, refusal: src/answer), one JSON object
 * per question: {"id","answer","citations":[{"source","section","url"?}],"refused","refusal_reason"}.
 */
import { CliArgsError, readTextFile, reportError, parseCliArgs } from '../args.ts';
import {
  langOption,
  openGroundedSession,
  parseQuestionsJsonl,
  toRecord,
  WIDGET_TEMPERATURE,
  wholeNumber,
} from './grounded-session.ts';
import { toArgsError } from './tokenize.ts';
import { forTerminal } from '../terminal-text.ts';

const HELP = `사용법 / usage:
  dure ask --model M.gguf --kb kb.json (--question TEXT | --questions FILE.jsonl) [--max-tokens N] [--json]

위젯과 똑같이 답합니다: 유해 질문 거절 → 지식 베이스 검색 (관련 자료가 없으면 안내 거절) → 자료를 근거로 생성 → 출력 검사 → 출처.
Answers exactly as the widget does: guard → retrieval (declines when nothing is relevant) →
generation from numbered sources → output check → citations.
  --questions F     JSONL {"id","question"} (출력도 같은 순서의 JSONL / JSONL out, same order)
  --max-tokens N    답변 최대 토큰 (기본 128) / answer token limit (default 128)
  --system-prompt T 포털의 system-prompt 속성과 같은 값 / the portal's system-prompt attribute
  --lang ko|en      거절 안내 언어 (기본 ko) / language of refusal messages
  --temperature T   기본 ${WIDGET_TEMPERATURE} (위젯과 같음) / default ${WIDGET_TEMPERATURE}, as the widget
  --greedy          항상 같은 답 / deterministic (argmax)
  --kb-sha256 H     지식 베이스 해시 고정 / pin the knowledge base hash
  --json            JSON 출력 / JSON lines
`;

export async function run(argv: string[]): Promise<number> {
  try {
    let v;
    try {
      v = parseCliArgs({
        args: argv,
        options: {
          model: { type: 'string' },
          kb: { type: 'string' },
          'kb-sha256': { type: 'string' },
          question: { type: 'string' },
          questions: { type: 'string' },
          'max-tokens': { type: 'string', default: '128' },
          'system-prompt': { type: 'string', default: '' },
          lang: { type: 'string', default: 'ko' },
          temperature: { type: 'string' },
          seed: { type: 'string' },
          greedy: { type: 'boolean', default: false },
          json: { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
        strict: true,
      }).values;
    } catch (e) {
      throw toArgsError(e);
    }
    if (v.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (!v.model || !v.kb) throw new CliArgsError('--model and --kb are required');
    if ((v.question === undefined) === (v.questions === undefined))
      throw new CliArgsError('give exactly one of --question or --questions');
    const temperature = v.greedy
      ? 0
      : v.temperature !== undefined
        ? Number(v.temperature)
        : WIDGET_TEMPERATURE;
    if (!(temperature >= 0 && temperature <= 2)) throw new CliArgsError('--temperature must be in 0..2');
    const items =
      v.question !== undefined
        ? [{ id: '1', question: v.question }]
        : parseQuestionsJsonl(await readTextFile(v.questions!));
    const session = await openGroundedSession({
      model: v.model,
      kb: v.kb,
      ...(v['kb-sha256'] ? { kbSha256: v['kb-sha256'] } : {}),
      systemPrompt: v['system-prompt'],
      lang: langOption(v.lang),
      maxTokens: wholeNumber('max-tokens', v['max-tokens']),
      temperature,
      ...(v.seed !== undefined ? { seed: Number(v.seed) } : {}),
    });
    try {
      for (const item of items) {
        const rec = toRecord(item.id, await session.ask(item.question));
        if (v.json) {
          process.stdout.write(`${JSON.stringify(rec)}\n`);
          continue;
        }
        const cites = rec.citations.map(
          (c, i) => `  [${i + 1}] ${c.source} › ${c.section}${c.url ? ` ${c.url}` : ''}`,
        );
        const tag = rec.refused ? ` (${rec.refusal_reason})` : '';
        // The answer (model output) and the citations (knowledge-base text) may carry controls.
        process.stdout.write(
          forTerminal(`${item.id}${tag}: ${rec.answer}\n${cites.join('\n')}${cites.length ? '\n' : ''}`),
        );
      }
    } finally {
      await session.dispose();
    }
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
