/**
 * `dure logits --model F.gguf --prompt-ids 1,2,3 [--json]` → `{ "logits": [...] }`, the raw logits
 * of the last prompt position (as llama.cpp's, for outside agreement checks).
 */
import { CliArgsError, parseIdList, reportError, parseCliArgs } from '../args.ts';
import { openEngine } from './engine-session.ts';

export async function run(argv: string[]): Promise<number> {
  try {
    const { values: v } = parseCliArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        'prompt-ids': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (!v.model) throw new CliArgsError('--model is required');
    if (!v['prompt-ids']) throw new CliArgsError('--prompt-ids is required');
    const ids = parseIdList(v['prompt-ids']);
    if (ids.length === 0) throw new CliArgsError('--prompt-ids is empty');
    const engine = await openEngine(v.model);
    try {
      const logits = await engine.logits(ids);
      process.stdout.write(JSON.stringify({ logits: Array.from(logits) }) + '\n');
    } finally {
      await engine.dispose();
    }
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
