/**
 * `npm run train:demo-model`: trains Dure's Korean demo model (issue #8, item 5) and writes
 * public/models/demo.gguf (Q8_0) with public/models/demo.json describing how it was made.
 *
 * 1. Vocabulary: the 4096-token byte-level BPE Dure learns from ../shared/corpus (ChatML special
 *    tokens and template), as the test models use.
 * 2. Data: scripts/datasets/corpus.ts — cleaned corpus paragraphs in ≤ --seq-len token chunks,
 *    hash-split 95/5 into training and validation.
 * 3. Base: a llama-architecture model. Projections are random (N(0, 0.02²)); the residual
 *    outputs (attn_output, ffn_down) start at zero; the embedding and output matrices, which LoRA
 *    cannot train, come from a truncated SVD of the training set's bigram log-probabilities
 *    (`--init spectral`, scripts/demo-model/spectral.ts) or are random too (`--init random`).
 * 4. Training: Dure's WebGPU LoRA trainer (src/training/trainer.ts) on all seven projection
 *    modules at high rank; after each round the adapter is merged into the weights
 *    (W' = W + (alpha/r)·B·A), re-quantized to Q8_0, and a fresh adapter starts (ReLoRA-style).
 * 5. Evaluation: validation perplexity through Dure's engine and through llama.cpp, against a
 *    unigram baseline; a few greedy and sampled Korean continuations.
 *
 * Runs in Node with Dawn (WebGPU; SwiftShader without a GPU). The time budget (--minutes) bounds
 * the training loop; everything else takes a few minutes more.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseCliArgs } from '../src/cli/args.ts';
import { MemorySource, readGguf } from '../src/engine/gguf/index.ts';
import { createTokenizer } from '../src/engine/tokenizer/index.ts';
import { requestNodeGpu } from '../src/node/webgpu.ts';
import { initialAdapter } from '../src/protocol/lora.ts';
import { tokenizerMetadata } from '../src/testing/test-models.ts';
import type { LoraTensors, TrainExample } from '../src/training/api.ts';
import { createLoraTrainer } from '../src/training/trainer.ts';
import { corpusDataset } from './datasets/corpus.ts';
import {
  enginePerplexity,
  llamaCppPerplexity,
  loadEngine,
  unigramPerplexity,
} from './demo-model/evaluate.ts';
import {
  ALL_MODULES,
  demoMetadata,
  loraModelShape,
  mergeAdapter,
  randomBase,
  readWeights,
  writeModel,
  type DemoShape,
  type Weights,
} from './demo-model/model.ts';
import { bigramLogMatrix, spectralEmbeddings, truncatedSvd } from './demo-model/spectral.ts';

const { values: args } = parseCliArgs({
  options: {
    out: { type: 'string', default: 'public/models/demo.gguf' },
    minutes: { type: 'string', default: '25' },
    rounds: { type: 'string', default: '3' },
    rank: { type: 'string', default: '64' },
    lr: { type: 'string', default: '2e-3' },
    batch: { type: 'string', default: '4' },
    'seq-len': { type: 'string', default: '128' },
    'n-embd': { type: 'string', default: '256' },
    'n-layer': { type: 'string', default: '2' },
    'n-ff': { type: 'string', default: '768' },
    init: { type: 'string', default: 'spectral' },
    seed: { type: 'string', default: '1' },
    'eval-examples': { type: 'string', default: '0' },
    'trainer-eval-examples': { type: 'string', default: '8' },
    'skip-llama-cpp': { type: 'boolean', default: false },
  },
});
const num = (k: keyof typeof args) => Number(args[k]);
const out = resolve(String(args.out));
const budgetMs = num('minutes') * 60_000;
const rounds = num('rounds');
const rank = num('rank');
const seqLen = num('seq-len');
const batch = num('batch');
const seed = num('seed');
const nEmbd = num('n-embd');
const shape: DemoShape = {
  nEmbd,
  nLayer: num('n-layer'),
  nHead: nEmbd / 64,
  nHeadKv: nEmbd / 64,
  headDim: 64,
  nFf: num('n-ff'),
  contextLength: 512,
};
const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

// 1–2. Vocabulary and data.
const tokMd = await tokenizerMetadata('corpus-bpe');
const tokenizer = createTokenizer(new Map(tokMd));
const nVocab = tokenizer.vocabSize;
const data = await corpusDataset(tokenizer, { maxSeqLen: seqLen });
const train = data.train.examples;
const nEval = num('eval-examples');
const validation = nEval > 0 ? data.validation.examples.slice(0, nEval) : data.validation.examples;
log(`data (${data.source}): ${train.length} train / ${validation.length} validation chunks,`, data.stats);
const unigram = unigramPerplexity(train, validation, nVocab);
log(`unigram baseline: perplexity ${unigram.perplexity.toFixed(1)} over ${unigram.tokens} tokens`);

// 3. Base.
const metadata = demoMetadata(shape, tokMd, nVocab, {
  name: 'dure-demo-ko',
  description:
    "Dure's Korean demo model: llama architecture, corpus BPE vocabulary, LoRA-trained by Dure's WebGPU trainer",
});
let weights: Weights = randomBase(shape, nVocab, seed);
for (let i = 0; i < shape.nLayer; i++) {
  // Residual outputs start silent: the base then is exactly its embedding → output path.
  weights.get(`blk.${i}.attn_output.weight`)!.data.fill(0);
  weights.get(`blk.${i}.ffn_down.weight`)!.data.fill(0);
}
let spectralSeconds = 0;
if (args.init === 'spectral') {
  const t0 = performance.now();
  const svd = truncatedSvd(bigramLogMatrix(train, nVocab), nVocab, nEmbd - 1, { powerIterations: 1, seed });
  const { embd, output } = spectralEmbeddings(svd, nVocab, nEmbd);
  weights.get('token_embd.weight')!.data.set(embd);
  weights.get('output.weight')!.data.set(output);
  spectralSeconds = (performance.now() - t0) / 1000;
  log(`spectral embeddings: rank ${nEmbd - 1} SVD in ${spectralSeconds.toFixed(0)} s`);
} else if (args.init !== 'random') {
  throw new Error(`--init must be spectral or random, got ${args.init}`);
}
let bytes = writeModel(weights, metadata);
weights = await readWeights(await readGguf(new MemorySource(bytes))); // what Q8_0 really holds
log(`base: ${(bytes.length / 1e6).toFixed(2)} MB Q8_0`);

// 4. Training.
const gpu = await requestNodeGpu();
const device = gpu.device;
const targetModules = ALL_MODULES;
const alpha = rank;
const order = (round: number): TrainExample[] => {
  // A seeded shuffle per round, so rounds see the data in different orders.
  const idx = [...train.keys()];
  let s = (seed * 7919 + round * 104729) >>> 0;
  for (let i = idx.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.map((i) => train[i]!);
};
const lossCurve: { round: number; step: number; loss: number; seconds: number }[] = [];
const roundStats: {
  round: number;
  steps: number;
  firstLoss: number;
  lastLoss: number;
  validationLossBefore: number;
  validationLossAfter: number;
  merged: boolean;
}[] = [];
// The trainer's own evaluation is a forward pass per example at training speed, so rounds are
// judged on a small validation subset; the final model is scored on the whole set below.
const probe = validation.slice(0, num('trainer-eval-examples'));
const trainStart = performance.now();
let totalSteps = 0;
let baseProbe: { loss: number; perplexity: number } | undefined;
let before = NaN;
for (let round = 0; round < rounds; round++) {
  const init = initialAdapter(loraModelShape(shape), { rank, alpha, targetModules, seed: seed + round });
  const adapter: LoraTensors = {
    rank,
    alpha,
    targetModules,
    tensors: new Map(init.map((t) => [t.name, t.data])),
  };
  const trainer = await createLoraTrainer(device, new MemorySource(bytes), {
    adapter,
    maxSeqLen: seqLen,
    optimizer: { learningRate: num('lr'), weightDecay: 0 },
  });
  if (round === 0) {
    baseProbe = await trainer.evaluate(probe);
    before = baseProbe.loss;
    log(`base: validation-probe loss ${before.toFixed(4)} (perplexity ${baseProbe.perplexity.toFixed(1)})`);
  }
  // The rounds share what is left of the budget (the base evaluation above counts against it).
  const roundEnd = performance.now() + (trainStart + budgetMs - performance.now()) / (rounds - round);
  const data = order(round);
  let step = 0;
  let first = NaN;
  let last = NaN;
  while (performance.now() < roundEnd) {
    const at = (step * batch) % data.length;
    const r = await trainer.step(data.slice(at, at + batch));
    if (step === 0) first = r.loss;
    last = r.loss;
    step++;
    totalSteps++;
    const seconds = (performance.now() - trainStart) / 1000;
    lossCurve.push({ round, step, loss: r.loss, seconds: Math.round(seconds) });
    log(
      `round ${round} step ${step}: loss ${r.loss.toFixed(4)} over ${r.tokens} tokens (${seconds.toFixed(0)} s)`,
    );
  }
  const trained = await trainer.getAdapter();
  const val = await trainer.evaluate(probe);
  trainer.dispose();
  // Merge only what helped: a round that made the probe worse is dropped, not baked in.
  const merged = val.loss < before;
  log(
    `round ${round}: ${step} steps, probe loss ${before.toFixed(4)} → ${val.loss.toFixed(4)}${merged ? '' : ' (not merged)'}`,
  );
  roundStats.push({
    round,
    steps: step,
    firstLoss: first,
    lastLoss: last,
    validationLossBefore: before,
    validationLossAfter: val.loss,
    merged,
  });
  if (merged) {
    mergeAdapter(weights, trained);
    bytes = writeModel(weights, metadata);
    weights = await readWeights(await readGguf(new MemorySource(bytes)));
    before = val.loss;
  }
}
const trainSeconds = (performance.now() - trainStart) / 1000;

// 5. Evaluation and samples.
await mkdir(dirname(out), { recursive: true });
await writeFile(out, bytes);
const sha256 = createHash('sha256').update(bytes).digest('hex');
log(`wrote ${out} (${bytes.length} bytes, sha256 ${sha256})`);
const engine = await loadEngine(device, bytes);
const ours = await enginePerplexity(engine, validation);
log(`Dure engine: validation perplexity ${ours.perplexity.toFixed(2)} over ${ours.tokens} tokens`);
let llamaCpp: { loss: number; perplexity: number; tokens: number } | null = null;
if (!args['skip-llama-cpp']) {
  const { loadReferenceModel } = await import('../src/testing/llama-cpp.ts');
  const model = await loadReferenceModel(out);
  llamaCpp = await llamaCppPerplexity(model, validation);
  await model.dispose();
  log(`llama.cpp: validation perplexity ${llamaCpp.perplexity.toFixed(2)}`);
}
const samples: { prompt: string; mode: string; text: string }[] = [];
for (const prompt of ['인공지능', '공공기관은', '정부는 초거대']) {
  for (const mode of ['greedy', 'sampled'] as const) {
    const gen = engine.generate({
      prompt,
      maxTokens: 40,
      ...(mode === 'greedy' ? { greedy: true } : { temperature: 0.8, topP: 0.95, seed: 7 }),
    });
    let r = await gen.next();
    while (!r.done) r = await gen.next();
    samples.push({ prompt, mode, text: r.value.text });
    log(`${mode} «${prompt}» → ${r.value.text}`);
  }
}
const chat = engine.generate({
  messages: [{ role: 'user', content: '전입신고는 어떻게 하나요?' }],
  maxTokens: 40,
  temperature: 0.8,
  seed: 7,
});
let c = await chat.next();
while (!c.done) c = await chat.next();
samples.push({ prompt: 'chat: 전입신고는 어떻게 하나요?', mode: 'sampled', text: c.value.text });
log(`chat → ${c.value.text}`);
await engine.dispose();

const report = {
  file: 'demo.gguf',
  sha256,
  bytes: bytes.length,
  architecture: 'llama',
  quantization: 'Q8_0 (norms F32)',
  shape: { ...shape, nVocab },
  parameters: [...weights.values()].reduce((n, t) => n + t.data.length, 0),
  tokenizer: {
    kind: 'byte-level BPE (tokenizer.ggml.pre qwen2), 4096 tokens learned from ../shared/corpus',
    chatTemplate: 'ChatML (<|im_start|>, <|im_end|>)',
  },
  data: {
    source: data.source,
    files: data.files,
    derivation:
      'scripts/datasets/corpus.ts: NFC, whitespace collapsed, Markdown and page furniture dropped, page-broken paragraphs re-joined, duplicates removed; paragraphs packed into ≤ seqLen-token chunks; FNV-1a hash bucket < 5 of 100 → validation',
    ...data.stats,
    trainChunks: train.length,
    validationChunks: validation.length,
  },
  init:
    args.init === 'spectral'
      ? 'projections N(0, 0.02²), attn_output/ffn_down zero, token_embd/output from a rank-(n_embd−1) SVD of the training bigram log-probability matrix (scripts/demo-model/spectral.ts)'
      : 'projections N(0, 0.02²), attn_output/ffn_down zero, token_embd/output N(0, 0.02²)',
  training: {
    trainer: "Dure's WebGPU LoRA trainer (src/training/trainer.ts), Node + Dawn",
    device: 'SwiftShader (CPU) on a 2-core machine',
    rounds,
    steps: totalSteps,
    examplesPerStep: batch,
    seqLen,
    rank,
    alpha,
    targetModules,
    learningRate: num('lr'),
    seconds: Math.round(trainSeconds),
    initSeconds: Math.round(spectralSeconds),
    roundStats,
    lossCurve,
  },
  evaluation: {
    validationTokens: ours.tokens,
    unigramPerplexity: unigram.perplexity,
    probeExamples: probe.length,
    baseProbePerplexity: baseProbe?.perplexity,
    perplexityDure: ours.perplexity,
    perplexityLlamaCpp: llamaCpp?.perplexity ?? null,
  },
  samples,
  command: `npm run train:demo-model -- ${process.argv.slice(2).join(' ')}`.trim(),
};
await writeFile(out.replace(/\.gguf$/, '.json'), JSON.stringify(report, null, 2) + '\n');
log('done');
process.exit(0);
