/**
 * Hyper-parameters of a supported architecture, read from GGUF metadata with llama.cpp's keys and
 * defaults. Architecture differences are data here (flags), so one forward pass serves them all.
 */
import type { GgufFile, GgufValue } from '../gguf/types.ts';
import { UnsupportedArchitectureError, ModelMetadataError } from '../../protocol/errors.ts';
export { UnsupportedArchitectureError, ModelMetadataError };

export const ARCHITECTURES = ['llama', 'qwen2', 'qwen3', 'gemma2', 'exaone'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export interface ModelConfig {
  arch: Architecture;
  name: string;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nKv: number;
  headDim: number;
  nFf: number;
  nVocab: number;
  contextLength: number;
  eps: number;
  ropeBase: number;
  ropeScale: number;
  nRot: number;
  /** NEOX rotation (i, i+d/2) instead of adjacent pairs. */
  ropeNeox: boolean;
  /** Scale applied to q·k (llama.cpp pre-scales Gemma-2's q by f_attention_scale). */
  attnScale: number;
  attnSoftcap: number;
  finalSoftcap: number;
  /** Sliding-window size for layers that use it (Gemma-2: even layers), 0 = none. */
  slidingWindow: number;
  embedScale: number;
  gelu: boolean;
  /** Gemma-2's post-attention and post-FFN norms. */
  postNorms: boolean;
  /** Qwen3's per-head q/k RMSNorm. */
  qkNorm: boolean;
}

function kv(file: GgufFile, key: string): GgufValue | undefined {
  return file.metadata.get(key)?.value;
}

function num(file: GgufFile, key: string, fallback?: number): number {
  const v = kv(file, key);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v === undefined && fallback !== undefined) return fallback;
  throw new ModelMetadataError(`GGUF metadata ${key} is ${v === undefined ? 'missing' : 'not a number'}`);
}

/** @throws {UnsupportedArchitectureError} @throws {ModelMetadataError} */
export function modelConfig(file: GgufFile): ModelConfig {
  const archValue = kv(file, 'general.architecture');
  if (typeof archValue !== 'string')
    throw new ModelMetadataError('GGUF metadata general.architecture is missing');
  if (!(ARCHITECTURES as readonly string[]).includes(archValue)) {
    throw new UnsupportedArchitectureError(
      `architecture "${archValue}" is not supported (supported: ${ARCHITECTURES.join(', ')})`,
    );
  }
  const arch = archValue as Architecture;
  const a = (k: string, fallback?: number) => num(file, `${arch}.${k}`, fallback);
  const nEmbd = a('embedding_length');
  const nHead = a('attention.head_count');
  const headDim = a('attention.key_length', nEmbd / nHead);
  const tokens = kv(file, 'tokenizer.ggml.tokens');
  const embd = file.tensors.find((t) => t.name === 'token_embd.weight');
  const nVocab = a('vocab_size', Array.isArray(tokens) ? tokens.length : (embd?.dims[1] ?? 0));
  const scalingType = kv(file, `${arch}.rope.scaling.type`);
  const scalingFactor = a('rope.scaling.factor', 0);
  const ropeScale = scalingType === 'linear' && scalingFactor > 0 ? 1 / scalingFactor : 1;
  const gemma = arch === 'gemma2';
  const cfg: ModelConfig = {
    arch,
    name: String(kv(file, 'general.name') ?? arch),
    nLayer: a('block_count'),
    nEmbd,
    nHead,
    nKv: a('attention.head_count_kv', nHead),
    headDim,
    nFf: a('feed_forward_length'),
    nVocab,
    contextLength: a('context_length', 2048),
    eps: a('attention.layer_norm_rms_epsilon', 1e-5),
    ropeBase: a('rope.freq_base', 10000),
    ropeScale,
    nRot: a('rope.dimension_count', headDim),
    ropeNeox: arch !== 'llama',
    attnScale: 1 / Math.sqrt(headDim),
    attnSoftcap: gemma ? a('attn_logit_softcapping', 0) : 0,
    finalSoftcap: gemma ? a('final_logit_softcapping', 0) : 0,
    slidingWindow: gemma ? a('attention.sliding_window', 0) : 0,
    embedScale: gemma ? Math.sqrt(nEmbd) : 1,
    gelu: gemma,
    postNorms: gemma,
    qkNorm: arch === 'qwen3',
  };
  for (const [k, v] of Object.entries(cfg)) {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new ModelMetadataError(`${k} is not finite`);
  }
  if (cfg.nHead % cfg.nKv !== 0)
    throw new ModelMetadataError(`head_count ${nHead} not a multiple of head_count_kv`);
  if (cfg.headDim > 256) throw new ModelMetadataError(`head dimension ${cfg.headDim} exceeds 256`);
  if (cfg.nRot > cfg.headDim || cfg.nRot % 2)
    throw new ModelMetadataError(`rope dimension ${cfg.nRot} invalid`);
  return cfg;
}

/** Gemma-2 alternates sliding-window (even) and global (odd) layers, as llama.cpp's swa pattern 2. */
export function layerWindow(cfg: ModelConfig, layer: number): number {
  return cfg.slidingWindow > 0 && layer % 2 === 0 ? cfg.slidingWindow : 0;
}
