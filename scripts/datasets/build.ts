/**
 * `npm run datasets`: writes the synthetic institution datasets and the corpus-derived set as JSONL
 * under node_modules/.cache/dure/datasets/ for inspection (generated bulk is never committed).
 * Options: --seed N (institutions, default 1), --max-seq-len N (corpus chunks, default 128).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseCliArgs } from '../../src/cli/args.ts';
import { createTokenizer } from '../../src/engine/tokenizer/index.ts';
import { tokenizerMetadata } from '../../src/testing/test-models.ts';
import { corpusDataset } from './corpus.ts';
import { INSTITUTIONS, institutionDataset, toJsonl } from './institutions.ts';

const { values } = parseCliArgs({
  options: { seed: { type: 'string', default: '1' }, 'max-seq-len': { type: 'string', default: '128' } },
});
const seed = Number(values.seed);
const maxSeqLen = Number(values['max-seq-len']);
const out = resolve(import.meta.dirname, '../../node_modules/.cache/dure/datasets');
await mkdir(out, { recursive: true });

for (const name of INSTITUTIONS) {
  const d = institutionDataset(name, seed);
  await writeFile(join(out, `${name}-train.jsonl`), toJsonl(d.train));
  await writeFile(join(out, `${name}-test.jsonl`), toJsonl(d.test));
  console.log(`${name}: ${d.train.length} train, ${d.test.length} test → ${out}/${name}-{train,test}.jsonl`);
}

const tokenizer = createTokenizer(new Map(await tokenizerMetadata('corpus-bpe')));
const c = await corpusDataset(tokenizer, { maxSeqLen });
const lines = (texts: string[]) => texts.map((text) => JSON.stringify({ text })).join('\n') + '\n';
await writeFile(join(out, 'corpus-train.jsonl'), lines(c.train.texts));
await writeFile(join(out, 'corpus-validation.jsonl'), lines(c.validation.texts));
console.log(
  `corpus (${c.source}: ${c.files.join(', ')}): ${c.stats.paragraphs} paragraphs → ${c.train.texts.length} train / ` +
    `${c.validation.texts.length} validation chunks of ≤ ${maxSeqLen} tokens ` +
    `(${c.stats.trainTokens} / ${c.stats.validationTokens} tokens) → ${out}/corpus-{train,validation}.jsonl`,
);
