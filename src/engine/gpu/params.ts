/**
 * Encoders for every kernel's uniform `…Params` struct, in the WGSL field order (element counts,
 * not bytes; floats bit-cast). `params.test.ts` checks each against the struct in its `.wgsl` file.
 */

/** A field's value; `f` marks an f32 field, anything else is a u32. */
export type Field = number | { f: number };

/** Packs fields in order into a uniform-sized (16-byte multiple) buffer. */
export function encode(fields: Field[]): ArrayBuffer {
  // Uniform structs are sized in multiples of 16 bytes.
  const size = Math.ceil((fields.length * 4) / 16) * 16;
  const buf = new ArrayBuffer(size);
  const v = new DataView(buf);
  fields.forEach((x, i) => {
    if (typeof x === 'number') v.setUint32(i * 4, x >>> 0, true);
    else v.setFloat32(i * 4, x.f, true);
  });
  return buf;
}

/** Per-step values shared by every kernel of a forward pass (`struct Step`). */
export interface StepValues {
  nTokens: number;
  /** Position of the batch's first token. */
  pos: number;
}
export const STEP_BYTES = 16;
/** @param into optional buffer to reuse (forward steps pass one, so decoding allocates nothing). */
export function encodeStep(s: StepValues, into: ArrayBuffer = new ArrayBuffer(STEP_BYTES)): ArrayBuffer {
  const v = new DataView(into);
  v.setUint32(0, s.nTokens, true);
  v.setUint32(4, s.pos, true);
  v.setUint32(8, s.pos + s.nTokens, true);
  v.setUint32(12, 0, true);
  return into;
}

export interface MatmulParams {
  k: number;
  rows: number;
  rowOffset: number;
  aux: number;
  outStride: number;
  gridX: number;
  /** Only the batch's last token (logits). */
  lastToken: boolean;
  softcap: number;
}
export function encodeMatmulParams(p: MatmulParams): ArrayBuffer {
  return encode([
    p.k,
    p.rows,
    p.rowOffset,
    p.aux,
    p.outStride,
    p.gridX,
    p.lastToken ? 1 : 0,
    { f: p.softcap },
    0,
    0,
    0,
    0,
  ]);
}

export interface EmbedParams {
  k: number;
  rows: number;
  aux: number;
  scale: number;
  rowOffset: number;
}
export function encodeEmbedParams(p: EmbedParams): ArrayBuffer {
  return encode([p.k, p.rows, p.aux, { f: p.scale }, p.rowOffset, 0, 0, 0]);
}

export interface NormParams {
  n: number;
  rowsPerToken: number;
  eps: number;
}
export function encodeNormParams(p: NormParams): ArrayBuffer {
  return encode([p.n, p.rowsPerToken, { f: p.eps }, 0]);
}

export interface RopeParams {
  nHead: number;
  nKv: number;
  headDim: number;
  nRot: number;
}
export function encodeRopeParams(p: RopeParams): ArrayBuffer {
  return encode([p.nHead, p.nKv, p.headDim, p.nRot]);
}

export interface AttnParams {
  nHead: number;
  nKv: number;
  headDim: number;
  window: number;
  scale: number;
  softcap: number;
  /** Split-KV workgroups per (KV group, head block) in the grid (attention-plan.ts splitCount). */
  nSplit?: number;
}
export function encodeAttnParams(p: AttnParams): ArrayBuffer {
  return encode([p.nHead, p.nKv, p.headDim, p.window, { f: p.scale }, { f: p.softcap }, p.nSplit ?? 1, 0]);
}

/** Fused norm + q/k/v projections + q/k norms + RoPE + KV append (wgsl/qkv.wgsl `QkvParams`). */
export interface QkvParams {
  k: number;
  nHead: number;
  nKv: number;
  headDim: number;
  nRot: number;
  /** Word offsets of wq, wk, wv in the shared buffer. */
  bases: [number, number, number];
  /** Word offsets of their repacked scales, relative to each base. */
  auxes: [number, number, number];
  biasOff: number;
  qNormOff: number;
  kNormOff: number;
  eps: number;
}
export function encodeQkvParams(p: QkvParams): ArrayBuffer {
  return encode([
    p.k,
    p.nHead,
    p.nKv,
    p.headDim,
    p.nRot,
    ...p.bases,
    ...p.auxes,
    p.biasOff,
    p.qNormOff,
    p.kNormOff,
    { f: p.eps },
    0,
  ]);
}

/** Fused norm + gate/up projections + gated activation (wgsl/glu.wgsl `GluParams`). */
export interface GluParams {
  k: number;
  rows: number;
  gateBase: number;
  upBase: number;
  gateAux: number;
  upAux: number;
  gridX: number;
  eps: number;
}
export function encodeGluParams(p: GluParams): ArrayBuffer {
  return encode([p.k, p.rows, p.gateBase, p.upBase, p.gateAux, p.upAux, p.gridX, { f: p.eps }]);
}

export function encodeActParams(p: { nFf: number }): ArrayBuffer {
  return encode([p.nFf, 0, 0, 0]);
}

export function encodeArgmaxParams(p: { n: number }): ArrayBuffer {
  return encode([p.n, 0, 0, 0]);
}

/** Top-k candidates after the repetition penalty (wgsl/sampling.wgsl `TopKParams`). */
export interface TopKParams {
  n: number;
  k: number;
  nPenalty: number;
  penalty: number;
}
export function encodeTopKParams(p: TopKParams, into?: ArrayBuffer): ArrayBuffer {
  if (!into) return encode([p.n, p.k, p.nPenalty, { f: p.penalty }]);
  const v = new DataView(into);
  v.setUint32(0, p.n, true);
  v.setUint32(4, p.k, true);
  v.setUint32(8, p.nPenalty, true);
  v.setFloat32(12, p.penalty, true);
  return into;
}

/** The GPU draw of the token loop (wgsl/sampling.wgsl `DrawParams`); rewritten every step. */
export interface DrawParams {
  greedy: boolean;
  temperature: number;
  topP: number;
  minP: number;
  /** Uniform in [0, 1): the step's random number from the CPU sampler's seeded generator. */
  rand: number;
}
export function encodeDrawParams(p: DrawParams, into?: ArrayBuffer): ArrayBuffer {
  const buf = into ?? new ArrayBuffer(32);
  const v = new DataView(buf);
  v.setUint32(0, p.greedy ? 1 : 0, true);
  v.setFloat32(4, p.temperature, true);
  v.setFloat32(8, p.topP, true);
  v.setFloat32(12, p.minP, true);
  v.setFloat32(16, p.rand, true);
  return buf;
}

/** LoRA shrink/expand (`struct LoraParams` in lora.wgsl). */
export interface LoraParams {
  inFeatures: number;
  /** Stacked rank of all adapters. */
  rank: number;
  outFeatures: number;
}
export function encodeLoraParams(p: LoraParams): ArrayBuffer {
  return encode([p.inFeatures, p.rank, p.outFeatures, 0]);
}
