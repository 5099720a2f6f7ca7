/**
 * A random-weight GGUF with a real small-model shape (llama architecture, GQA, SwiGLU), large
 * enough that decode is bound by reading weights, small enough for a software adapter. Uses the
 * corpus BPE vocabulary; cached under node_modules/.cache/dure/bench/.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { quantize } from '../src/tools/gguf/quantize.ts';
import { GgmlType } from '../src/engine/gguf/types.ts';
import { kv, writeGguf, type GgufTensorInput } from '../src/tools/gguf/writer.ts';
import { tokenizerMetadata } from '../src/testing/test-models.ts';

export interface BenchShape {
  name: string;
  nLayer: number;
  nEmbd: number;
  nFf: number;
  nHead: number;
  nKv: number;
  quant: 'Q4_K' | 'Q8_0' | 'F16';
}

/** Llama-3.2-1B's proportions (64-dim heads, 4:1 GQA, ffn ≈ 2.7×) scaled to 12 layers of 768. */
export const BENCH_SHAPE: BenchShape = {
  name: 'bench-llama-12x768',
  nLayer: 12,
  nEmbd: 768,
  nFf: 2048,
  nHead: 12,
  nKv: 4,
  quant: 'Q4_K',
};

function rand(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

/** The GGUF keys a llama-style bench model's shape needs (architecture, name, widths, RoPE, norm). */
export function hyperparameterMetadata(
  a: string,
  shape: Pick<BenchShape, 'name' | 'nLayer' | 'nEmbd' | 'nFf' | 'nHead' | 'nKv'>,
  o: { contextLength: number; rmsEps: number; ropeBase: number },
): [string, ReturnType<typeof kv.str>][] {
  return [
    ['general.architecture', kv.str(a)],
    ['general.name', kv.str(shape.name)],
    [`${a}.block_count`, kv.u32(shape.nLayer)],
    [`${a}.context_length`, kv.u32(o.contextLength)],
    [`${a}.embedding_length`, kv.u32(shape.nEmbd)],
    [`${a}.feed_forward_length`, kv.u32(shape.nFf)],
    [`${a}.attention.head_count`, kv.u32(shape.nHead)],
    [`${a}.attention.head_count_kv`, kv.u32(shape.nKv)],
    [`${a}.attention.layer_norm_rms_epsilon`, kv.f32(o.rmsEps)],
    [`${a}.rope.freq_base`, kv.f32(o.ropeBase)],
  ];
}

export async function benchModelPath(shape: BenchShape = BENCH_SHAPE): Promise<string> {
  const dir = join(process.cwd(), 'node_modules/.cache/dure/bench');
  const path = join(dir, `${shape.name}-${shape.quant}.gguf`);
  if (existsSync(path)) return path;
  await mkdir(dir, { recursive: true });
  const tok = await tokenizerMetadata('corpus-bpe');
  const tokens = tok.find(([k]) => k === 'tokenizer.ggml.tokens')?.[1].value as string[];
  const nVocab = tokens.length;
  const hd = shape.nEmbd / shape.nHead;
  const r = rand(7);
  const type = GgmlType[shape.quant];
  const mat = (name: string, inDim: number, outDim: number): GgufTensorInput => {
    const v = new Float32Array(inDim * outDim);
    const scale = 2 / Math.sqrt(inDim);
    for (let i = 0; i < v.length; i++) v[i] = r() * scale;
    return { name, dims: [inDim, outDim], type, data: quantize(type, v) };
  };
  const ones = (name: string, n: number): GgufTensorInput => ({
    name,
    dims: [n],
    type: GgmlType.F32,
    data: new Uint8Array(new Float32Array(n).fill(1).buffer),
  });
  const tensors: GgufTensorInput[] = [
    mat('token_embd.weight', shape.nEmbd, nVocab),
    ones('output_norm.weight', shape.nEmbd),
  ];
  tensors.push(mat('output.weight', shape.nEmbd, nVocab));
  for (let i = 0; i < shape.nLayer; i++) {
    const b = `blk.${i}.`;
    tensors.push(
      ones(`${b}attn_norm.weight`, shape.nEmbd),
      mat(`${b}attn_q.weight`, shape.nEmbd, shape.nHead * hd),
      mat(`${b}attn_k.weight`, shape.nEmbd, shape.nKv * hd),
      mat(`${b}attn_v.weight`, shape.nEmbd, shape.nKv * hd),
      mat(`${b}attn_output.weight`, shape.nHead * hd, shape.nEmbd),
      ones(`${b}ffn_norm.weight`, shape.nEmbd),
      mat(`${b}ffn_gate.weight`, shape.nEmbd, shape.nFf),
      mat(`${b}ffn_up.weight`, shape.nEmbd, shape.nFf),
      mat(`${b}ffn_down.weight`, shape.nFf, shape.nEmbd),
    );
  }
  const metadata = [
    ...hyperparameterMetadata('llama', shape, { contextLength: 2048, rmsEps: 1e-5, ropeBase: 500000 }),
    ...tok,
  ] as [string, ReturnType<typeof kv.str>][];
  const bytes = writeGguf({ metadata, tensors });
  await writeFile(`${path}.tmp`, bytes);
  await rename(`${path}.tmp`, path);
  return path;
}
