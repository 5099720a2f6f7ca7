/**
 * The model `npm run bench:gpu` runs in both Dure and llama.cpp: a qwen2 GGUF in llama.cpp's Q4_K_M
 * mix (src/tools/gguf/quant-mix.ts), Qwen2.5-1.5B's shape for the full run, a tiny one for --smoke;
 * also `npm run bench`'s long-context model.
 * Made offline and in seconds: the quantized blocks are random bytes with their f16 scales set so
 * weights have a sensible spread (quantizing 1.5 billion random floats in JavaScript would take
 * hours; speed depends only on the bytes read, and both engines read the same file).
 * Cached under node_modules/.cache/dure/bench/.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { GgmlType } from '../src/engine/gguf/types.ts';
import { ggmlTypeTraits } from '../src/engine/gguf/quant/traits.ts';
import { q4KMType } from '../src/tools/gguf/quant-mix.ts';
import { kv, writeGguf, type GgufTensorInput } from '../src/tools/gguf/writer.ts';
import { tokenizerMetadata, type TestTokenizer } from '../src/testing/test-models.ts';
import { hyperparameterMetadata } from './bench-model.ts';

export interface GpuBenchShape {
  name: string;
  nLayer: number;
  nEmbd: number;
  nFf: number;
  nHead: number;
  nKv: number;
  contextLength: number;
  /** corpus-bpe: 4096 tokens (smoke); qwen3: Qwen's ~151k-token vocabulary (Qwen2.5's is 151,936). */
  tokenizer: TestTokenizer;
}

/** Qwen2.5-1.5B: 28 layers of 1536, 12 query heads and 2 KV heads of 128, FFN 8960, tied output. */
export const QWEN25_15B_SHAPE: GpuBenchShape = {
  name: 'qwen2.5-1.5b-shape',
  nLayer: 28,
  nEmbd: 1536,
  nFf: 8960,
  nHead: 12,
  nKv: 2,
  contextLength: 4096,
  tokenizer: 'qwen3',
};

/** Two layers of 256 with the corpus vocabulary: seconds on a software adapter. */
export const SMOKE_SHAPE: GpuBenchShape = {
  name: 'qwen2-smoke',
  nLayer: 2,
  nEmbd: 256,
  nFf: 512,
  nHead: 4,
  nKv: 2,
  contextLength: 512,
  tokenizer: 'corpus-bpe',
};

/**
 * The decode bench's proportions (bench/bench-model.ts: 12 layers of 768, 4 KV heads of 64) with a
 * 4k context, for decode.long_context_ratio in `npm run bench` (≥ 2048 tokens of context).
 */
export const LONG_CONTEXT_SHAPE: GpuBenchShape = {
  name: 'qwen2-12x768-ctx4k',
  nLayer: 12,
  nEmbd: 768,
  nFf: 2048,
  nHead: 12,
  nKv: 4,
  contextLength: 4096,
  tokenizer: 'corpus-bpe',
};

/**
 * The f16 scales of a block: [byte offset, multiple of d], with d giving weights of std ≈ `std`.
 */
const SCALES: Partial<Record<GgmlType, { at: [number, number][]; d: (std: number) => number }>> = {
  // d·sc·q − dmin·m with 6-bit sc, m and 4-bit q: d·sc·q averages d·236 and spreads over ≈ d·240;
  // dmin = 7.5·d centres the weights on zero.
  [GgmlType.Q4_K]: {
    at: [
      [0, 1],
      [2, 7.5],
    ],
    d: (std) => std / 240,
  },
  // d·sc·(q − 32) with int8 sc and 6-bit q: ≈ d·1200, centred.
  [GgmlType.Q6_K]: { at: [[208, 1]], d: (std) => std / 1200 },
};

/** IEEE half-precision bits of a positive `v`, subnormals included (small scales are subnormal). */
function f16Bits(v: number): number {
  const exp = Math.floor(Math.log2(v));
  if (exp < -14) return Math.min(1023, Math.round(v / 2 ** -24));
  const mant = Math.round((v / 2 ** exp - 1) * 1024);
  return mant === 1024 ? (exp + 16) << 10 : ((exp + 15) << 10) | mant;
}

/** Random quantized blocks of `type` for a [nIn, nOut] weight. */
function randomBlocks(type: GgmlType, nIn: number, nOut: number, seed: number): Uint8Array {
  const t = ggmlTypeTraits(type);
  const spec = SCALES[type];
  if (!spec) throw new Error(`no random block layout for ${GgmlType[type]}`);
  const blocks = (nIn / t.blockSize) * nOut;
  const out = new Uint8Array(blocks * t.bytesPerBlock);
  const words = new Uint32Array(out.buffer, 0, out.length >>> 2);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    // xorshift32: fast and deterministic.
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    words[i] = s >>> 0;
  }
  const d = spec.d(0.5 / Math.sqrt(nIn));
  const fields = spec.at.map(([at, k]) => [at, f16Bits(d * k)] as const);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++)
    for (const [at, bits] of fields) view.setUint16(b * t.bytesPerBlock + at, bits, true);
  return out;
}

/** Path of the cached bench GGUF for `shape`, generating it on first use. */
export async function gpuBenchModelPath(shape: GpuBenchShape): Promise<string> {
  const dir = join(process.cwd(), 'node_modules/.cache/dure/bench');
  const path = join(dir, `${shape.name}-Q4_K_M.gguf`);
  if (existsSync(path)) return path;
  await mkdir(dir, { recursive: true });
  const tok = await tokenizerMetadata(shape.tokenizer);
  const tokens = tok.find(([k]) => k === 'tokenizer.ggml.tokens')?.[1].value as string[];
  const nVocab = tokens.length;
  const hd = shape.nEmbd / shape.nHead;
  let seed = 1;
  const tensors: GgufTensorInput[] = [];
  const mat = (name: string, nIn: number, nOut: number) => {
    const type = q4KMType({ name, nx: nIn, nDims: 2 }, shape.nLayer, true);
    tensors.push({ name, dims: [nIn, nOut], type, data: randomBlocks(type, nIn, nOut, seed++ * 0x9e3779b1) });
  };
  const vec = (name: string, n: number, value: number) =>
    tensors.push({
      name,
      dims: [n],
      type: GgmlType.F32,
      data: new Uint8Array(new Float32Array(n).fill(value).buffer),
    });
  // Tied output, as Qwen2.5-1.5B: the embedding is the output matrix (Q6_K in the mix).
  mat('token_embd.weight', shape.nEmbd, nVocab);
  vec('output_norm.weight', shape.nEmbd, 1);
  for (let i = 0; i < shape.nLayer; i++) {
    const b = `blk.${i}.`;
    vec(`${b}attn_norm.weight`, shape.nEmbd, 1);
    mat(`${b}attn_q.weight`, shape.nEmbd, shape.nHead * hd);
    vec(`${b}attn_q.bias`, shape.nHead * hd, 0.01);
    mat(`${b}attn_k.weight`, shape.nEmbd, shape.nKv * hd);
    vec(`${b}attn_k.bias`, shape.nKv * hd, 0.01);
    mat(`${b}attn_v.weight`, shape.nEmbd, shape.nKv * hd);
    vec(`${b}attn_v.bias`, shape.nKv * hd, 0.01);
    mat(`${b}attn_output.weight`, shape.nHead * hd, shape.nEmbd);
    vec(`${b}ffn_norm.weight`, shape.nEmbd, 1);
    mat(`${b}ffn_gate.weight`, shape.nEmbd, shape.nFf);
    mat(`${b}ffn_up.weight`, shape.nEmbd, shape.nFf);
    mat(`${b}ffn_down.weight`, shape.nFf, shape.nEmbd);
  }
  const metadata = [
    ...hyperparameterMetadata('qwen2', shape, {
      contextLength: shape.contextLength,
      rmsEps: 1e-6,
      ropeBase: 1000000,
    }),
    ['general.file_type', kv.u32(15)], // MOSTLY_Q4_K_M
    ['general.quantization_version', kv.u32(2)],
    ...tok,
  ] as [string, ReturnType<typeof kv.str>][];
  const bytes = writeGguf({ metadata, tensors });
  const fh = await open(`${path}.tmp`, 'w');
  try {
    await fh.writeFile(bytes);
  } finally {
    await fh.close();
  }
  await rename(`${path}.tmp`, path);
  return path;
}
