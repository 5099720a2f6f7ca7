/**
 * `dure generate --model F.gguf (--prompt TEXT | --prompt-ids 1,2,3) [--chat] [--max-tokens N]
 *                [--greedy | --temperature T --seed S] [--top-k K] [--top-p P] [--json]`
 * Prints `{ "ids": [...], "text": "..." }` with --json, else streams the text.
 */
import { CliArgsError, parseIdList, reportError, parseCliArgs } from '../args.ts';
import { openEngine } from './engine-session.ts';
import { forTerminal } from '../terminal-text.ts';

export async function run(argv: string[]): Promise<number> {
  try {
    const { values: v } = parseCliArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        prompt: { type: 'string' },
        'prompt-ids': { type: 'string' },
        chat: { type: 'boolean', default: false },
        'max-tokens': { type: 'string', default: '64' },
        greedy: { type: 'boolean', default: false },
        temperature: { type: 'string' },
        seed: { type: 'string' },
        'top-k': { type: 'string' },
        'top-p': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (!v.model) throw new CliArgsError('--model is required');
    if ((v.prompt === undefined) === (v['prompt-ids'] === undefined)) {
      throw new CliArgsError('give exactly one of --prompt or --prompt-ids');
    }
    if (v.chat && v['prompt-ids']) throw new CliArgsError('--chat needs --prompt');
    const maxTokens = Number(v['max-tokens']);
    if (!Number.isInteger(maxTokens) || maxTokens < 0)
      throw new CliArgsError('--max-tokens must be a whole number');
    const temperature = v.greedy || v.temperature === undefined ? 0 : Number(v.temperature);
    const engine = await openEngine(v.model);
    try {
      const it = engine.generate({
        ...(v.chat ? { messages: [{ role: 'user', content: v.prompt ?? '' }] } : {}),
        ...(!v.chat && v.prompt !== undefined ? { prompt: v.prompt } : {}),
        ...(v['prompt-ids'] ? { promptIds: parseIdList(v['prompt-ids']) } : {}),
        maxTokens,
        greedy: temperature <= 0,
        temperature,
        ...(v.seed !== undefined ? { seed: Number(v.seed) } : {}),
        ...(v['top-k'] !== undefined ? { topK: Number(v['top-k']) } : {}),
        ...(v['top-p'] !== undefined ? { topP: Number(v['top-p']) } : {}),
      });
      for (;;) {
        const r = await it.next();
        if (r.done) {
          if (v.json) process.stdout.write(JSON.stringify({ ids: r.value.ids, text: r.value.text }) + '\n');
          else process.stdout.write('\n');
          break;
        }
        if (!v.json) process.stdout.write(forTerminal(r.value.text));
      }
    } finally {
      await engine.dispose();
    }
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
