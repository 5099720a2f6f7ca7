/**
 * Hyper-parameters of a supported architecture, read from GGUF metadata with llama.cpp's keys and
 * defaults. What differs between architectures lives in their specs (arch/<name>.ts); this module
 * turns a spec and a file's metadata into a ModelConfig whose per-layer entries (window, RoPE or
 * none) the forward pass, the CPU reference and the trainer read, so none of them names an arch.
 */
import type { GgufFile, GgufValue } from '../gguf/types.ts';
import {
  UnsupportedArchitectureError,
  ModelMetadataError,
  UnsupportedRopeScalingError,
} from '../../protocol/errors.ts';
import {
  ARCH_SPECS,
  ARCHITECTURES,
  isArchitecture,
  type Activation,
  type ArchMeta,
  type Architecture,
  type ArchSpec,
  type BlockNorms,
} from './arch/index.ts';
import { ropeScaling, type RopeScaling } from './rope-scaling.ts';
import type { RopeParams } from './rope-table.ts';
export { UnsupportedArchitectureError, ModelMetadataError, UnsupportedRopeScalingError };
export { ARCHITECTURES, type Architecture };

/** What one decoder layer does differently from the others. */
export interface LayerConfig {
  /** Keys attended (the current one included) in a sliding-window layer; 0 = all. */
  window: number;
  /** How q and k rotate, or null when this layer applies no RoPE. */
  rope: RopeParams | null;
}

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
  /** Global layers' RoPE base and frequency scale (per-layer values are in `layers`). */
  ropeBase: number;
  ropeScale: number;
  ropeScaling: RopeScaling;
  nRot: number;
  /** NEOX rotation (i, i+d/2) instead of adjacent pairs. */
  ropeNeox: boolean;
  /** Whether RoPE divides by `rope_freqs.weight` when the file has it. */
  ropeFactors: boolean;
  /** Scale applied to q·k (llama.cpp pre-scales Gemma's q by f_attention_scale). */
  attnScale: number;
  attnSoftcap: number;
  finalSoftcap: number;
  /** The sliding window of the layers that slide (see `layers`), 0 = none. */
  slidingWindow: number;
  embedScale: number;
  activation: Activation;
  gelu: boolean;
  norms: BlockNorms;
  /** attn_norm and ffn_norm before attention and FFN (all but EXAONE 4.0). */
  preNorms: boolean;
  /** Post-attention and post-FFN norms (Gemma 2/3, EXAONE 4.0). */
  postNorms: boolean;
  /** Per-head q/k RMSNorm (Qwen3, Gemma 3, EXAONE 4.0). */
  qkNorm: boolean;
  qkvBias: ArchSpec['qkvBias'];
  layers: LayerConfig[];
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

function archMeta(file: GgufFile, arch: string): ArchMeta {
  return {
    num: (k, fallback) => num(file, `${arch}.${k}`, fallback),
    has: (k) => file.metadata.has(`${arch}.${k}`),
    bools: (k) => {
      const v = kv(file, `${arch}.${k}`);
      if (v === undefined || typeof v !== 'object' || !('length' in v)) return undefined;
      return Array.from(v as ArrayLike<unknown>, (x) => !!x);
    },
  };
}

/**
 * @throws {UnsupportedArchitectureError} @throws {ModelMetadataError}
 * @throws {UnsupportedRopeScalingError} for a RoPE scaling type not applied exactly.
 */
export function modelConfig(file: GgufFile): ModelConfig {
  const archValue = kv(file, 'general.architecture');
  if (typeof archValue !== 'string')
    throw new ModelMetadataError('GGUF metadata general.architecture is missing');
  if (!isArchitecture(archValue)) {
    throw new UnsupportedArchitectureError(
      `architecture "${archValue}" is not supported (supported: ${ARCHITECTURES.join(', ')})`,
    );
  }
  const arch = archValue;
  const spec = ARCH_SPECS[arch];
  const m = archMeta(file, arch);
  const a = m.num;
  const nEmbd = a('embedding_length');
  const nHead = a('attention.head_count');
  const headDim = a('attention.key_length', nEmbd / nHead);
  const nLayer = a('block_count');
  const tokens = kv(file, 'tokenizer.ggml.tokens');
  const embd = file.tensors.find((t) => t.name === 'token_embd.weight');
  const nVocab = a('vocab_size', Array.isArray(tokens) ? tokens.length : (embd?.dims[1] ?? 0));
  const contextLength = a('context_length', 2048);
  const scaling = ropeScaling((k) => kv(file, `${arch}.${k}`), contextLength);
  const ropeBase = a('rope.freq_base', 10000);
  const hp = { nLayer, nEmbd, nHead, headDim, ropeBase, freqScaleTrain: scaling.freqScaleTrain };
  const { type: _type, freqScaleTrain: _train, ...ropeRest } = scaling;
  const globalRope: RopeParams = { ...ropeRest, freqBase: ropeBase };
  const swa = spec.swa?.(m, hp);
  const layers: LayerConfig[] = Array.from({ length: nLayer }, (_, il) => {
    const slides = !!swa && !!swa.isSwa[il];
    const rope: RopeParams | null =
      swa && spec.ropeOnlySwa && !slides
        ? null
        : slides
          ? { ...globalRope, freqBase: swa.localBase, freqScale: swa.localScale }
          : globalRope;
    return { window: slides ? swa.window : 0, rope };
  });
  const cap = (key: string | undefined) => (key ? a(key, 0) : 0);
  const cfg: ModelConfig = {
    arch,
    name: String(kv(file, 'general.name') ?? arch),
    nLayer,
    nEmbd,
    nHead,
    nKv: a('attention.head_count_kv', nHead),
    headDim,
    nFf: a('feed_forward_length'),
    nVocab,
    contextLength,
    eps: a('attention.layer_norm_rms_epsilon', 1e-5),
    ropeBase,
    ropeScale: scaling.freqScale,
    ropeScaling: scaling,
    nRot: a('rope.dimension_count', headDim),
    ropeNeox: spec.ropeNeox,
    ropeFactors: spec.ropeFactors,
    attnScale: spec.attnScale ? spec.attnScale(hp) : 1 / Math.sqrt(headDim),
    attnSoftcap: cap(spec.softcaps.attn),
    finalSoftcap: cap(spec.softcaps.final),
    slidingWindow: swa && swa.isSwa.some(Boolean) ? swa.window : 0,
    embedScale: spec.embedScaleSqrt ? Math.sqrt(nEmbd) : 1,
    activation: spec.activation,
    gelu: spec.activation === 'gelu-tanh',
    norms: spec.norms,
    preNorms: spec.norms.preAttn && spec.norms.preFfn,
    postNorms: spec.norms.postAttn && spec.norms.postFfn,
    qkNorm: spec.norms.qk,
    qkvBias: spec.qkvBias,
    layers,
  };
  for (const [k, v] of Object.entries(cfg)) {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new ModelMetadataError(`${k} is not finite`);
  }
  if (cfg.nHead % cfg.nKv !== 0)
    throw new ModelMetadataError(`head_count ${nHead} not a multiple of head_count_kv`);
  if (cfg.headDim > 256) throw new ModelMetadataError(`head dimension ${cfg.headDim} exceeds 256`);
  if (cfg.nRot > cfg.headDim || cfg.nRot % 2)
    throw new ModelMetadataError(`rope dimension ${cfg.nRot} invalid`);
  if (swa && swa.window <= 0 && swa.isSwa.some(Boolean))
    throw new ModelMetadataError(`sliding window ${swa.window} invalid`);
  return cfg;
}

/** The attention window of a layer (0 = the whole context). */
/** The head geometry every RoPE kernel (forward, fused q/k/v, backward) takes, in one place. */
export function ropeHeads(cfg: ModelConfig): {
  neox: boolean;
  nHead: number;
  nKv: number;
  headDim: number;
  nRot: number;
} {
  return { neox: cfg.ropeNeox, nHead: cfg.nHead, nKv: cfg.nKv, headDim: cfg.headDim, nRot: cfg.nRot };
}

export function layerWindow(cfg: ModelConfig, layer: number): number {
  return cfg.layers[layer]?.window ?? 0;
}

/**
 * The distinct RoPE variants of a model (null = no rotation) and which one each layer uses, so a
 * cos/sin table is built once per variant (Gemma 3: one for local layers, one for global ones).
 */
export function ropeVariants(cfg: ModelConfig): { variants: (RopeParams | null)[]; ofLayer: number[] } {
  const keys: string[] = [];
  const variants: (RopeParams | null)[] = [];
  const ofLayer = cfg.layers.map((l) => {
    const key = JSON.stringify(l.rope);
    let i = keys.indexOf(key);
    if (i < 0) {
      i = keys.push(key) - 1;
      variants.push(l.rope);
    }
    return i;
  });
  return { variants, ofLayer };
}
