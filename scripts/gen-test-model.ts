/**
 * Generates (or finds in the cache) tiny deterministic test GGUFs and prints their paths.
 *   npx tsx scripts/gen-test-model.ts --arch llama --quant Q4_K_M [--tokenizer corpus-bpe] [--seed 1]
 *   npx tsx scripts/gen-test-model.ts --all      (every arch × quant with the corpus vocabulary)
 *   npx tsx scripts/gen-test-model.ts --export-corpus-tokenizer DIR
 *       (writes the corpus BPE vocabulary as Hugging Face tokenizer.json + tokenizer_config.json)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DureError } from '../src/engine/errors.ts';
import {
  corpusBpeTokenizer,
  TEST_ARCHS,
  TEST_QUANTS,
  testModelPath,
  type TestArch,
  type TestQuant,
  type TestTokenizer,
} from '../src/testing/test-models.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string' },
      quant: { type: 'string' },
      tokenizer: { type: 'string' },
      seed: { type: 'string' },
      all: { type: 'boolean' },
      'export-corpus-tokenizer': { type: 'string' },
    },
  });
  const exportDir = values['export-corpus-tokenizer'];
  if (exportDir) {
    const { tokenizer, config } = await corpusBpeTokenizer();
    await mkdir(exportDir, { recursive: true });
    await writeFile(join(exportDir, 'tokenizer.json'), JSON.stringify(tokenizer, null, 1));
    await writeFile(join(exportDir, 'tokenizer_config.json'), JSON.stringify(config, null, 1));
    console.log(exportDir);
    return 0;
  }
  if (values.all) {
    for (const arch of TEST_ARCHS) {
      for (const quant of TEST_QUANTS) console.log(await testModelPath({ arch, quant }));
    }
    return 0;
  }
  if (!values.arch || !values.quant) {
    console.error(
      'usage: gen-test-model --arch <arch> --quant <quant> [--tokenizer <name>] [--seed <n>] | --all',
    );
    return 2;
  }
  const path = await testModelPath({
    arch: values.arch as TestArch,
    quant: values.quant as TestQuant,
    ...(values.tokenizer ? { tokenizer: values.tokenizer as TestTokenizer } : {}),
    ...(values.seed ? { seed: Number(values.seed) } : {}),
  });
  console.log(path);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof DureError) console.error(`error ${e.code}: ${e.message}`);
    else console.error(e);
    process.exit(1);
  },
);
