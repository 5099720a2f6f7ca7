/**
 * Reads a model's tensors from the GGUF source and uploads them once, in the GPU layout. Names and
 * shapes are checked against the config before anything is allocated. Matrices are streamed in
 * slices through one reused staging buffer (streamed-upload.ts), so the JS memory a load needs is
 * bounded by that buffer, not by the tensor or the file.
 */
import { dequantize } from '../gguf/quant/index.ts';
import { GgmlType, type GgufFile, type GgufTensorInfo } from '../gguf/types.ts';
import { destroyWeight, uploadF32, type GpuWeight } from '../gpu/gpu-weight.ts';
import {
  STAGING_SLICE_BYTES,
  uploadWeightGroupStreamed,
  uploadWeightStreamed,
  type TensorBytes,
} from '../gpu/streamed-upload.ts';
import type { ByteSource } from '../gguf/types.ts';
import { gpuQuantRow, weightBytes } from '../gpu/weight-layout.ts';
import type { ModelConfig } from './config.ts';
import { ModelTensorError, UnsupportedWeightTypeError } from '../../protocol/errors.ts';
import { ggmlTypeName } from '../gguf/quant/traits.ts';
export { ModelTensorError };

export interface LayerWeights {
  /** Absent for architectures without pre-norms (EXAONE 4.0). */
  attnNorm?: GPUBuffer;
  wq: GpuWeight;
  wk: GpuWeight;
  wv: GpuWeight;
  wo: GpuWeight;
  bq?: GPUBuffer;
  bk?: GPUBuffer;
  bv?: GPUBuffer;
  qNorm?: GPUBuffer;
  kNorm?: GPUBuffer;
  attnPostNorm?: GPUBuffer;
  ffnNorm?: GPUBuffer;
  wGate: GpuWeight;
  wUp: GpuWeight;
  wDown: GpuWeight;
  ffnPostNorm?: GPUBuffer;
}

export interface ModelWeights {
  tokenEmbd: GpuWeight;
  output: GpuWeight;
  outputNorm: GPUBuffer;
  /** Llama-3 style per-pair RoPE divisors, used by the CPU-side rope table. */
  ropeFactors?: Float32Array;
  layers: LayerWeights[];
  /** Bytes of every weight buffer on the GPU. */
  bytes: number;
  destroy(): void;
}

export interface TensorSpec {
  name: string;
  /** ggml dims: [in, out] for matrices, [n] for vectors. */
  dims: number[];
  optional?: boolean;
}

/** Every tensor the config calls for, with its expected shape. */
export function expectedTensors(cfg: ModelConfig, file: GgufFile): TensorSpec[] {
  const q = cfg.nHead * cfg.headDim;
  const kvw = cfg.nKv * cfg.headDim;
  const specs: TensorSpec[] = [
    { name: 'token_embd.weight', dims: [cfg.nEmbd, cfg.nVocab] },
    { name: 'output_norm.weight', dims: [cfg.nEmbd] },
    { name: 'output.weight', dims: [cfg.nEmbd, cfg.nVocab], optional: true },
    { name: 'rope_freqs.weight', dims: [cfg.nRot / 2], optional: true },
  ];
  const has = (n: string) => file.tensors.some((t) => t.name === n);
  const n = cfg.norms;
  for (let i = 0; i < cfg.nLayer; i++) {
    const b = `blk.${i}.`;
    if (n.preAttn) specs.push({ name: `${b}attn_norm.weight`, dims: [cfg.nEmbd] });
    specs.push(
      { name: `${b}attn_q.weight`, dims: [cfg.nEmbd, q] },
      { name: `${b}attn_k.weight`, dims: [cfg.nEmbd, kvw] },
      { name: `${b}attn_v.weight`, dims: [cfg.nEmbd, kvw] },
      { name: `${b}attn_output.weight`, dims: [q, cfg.nEmbd] },
    );
    if (n.preFfn) specs.push({ name: `${b}ffn_norm.weight`, dims: [cfg.nEmbd] });
    specs.push(
      { name: `${b}ffn_gate.weight`, dims: [cfg.nEmbd, cfg.nFf] },
      { name: `${b}ffn_up.weight`, dims: [cfg.nEmbd, cfg.nFf] },
      { name: `${b}ffn_down.weight`, dims: [cfg.nFf, cfg.nEmbd] },
    );
    const biasOptional = cfg.qkvBias !== 'required';
    if (!biasOptional || has(`${b}attn_q.bias`)) {
      specs.push(
        { name: `${b}attn_q.bias`, dims: [q], optional: biasOptional },
        { name: `${b}attn_k.bias`, dims: [kvw], optional: biasOptional },
        { name: `${b}attn_v.bias`, dims: [kvw], optional: biasOptional },
      );
    }
    if (n.qk) {
      specs.push(
        { name: `${b}attn_q_norm.weight`, dims: [cfg.headDim] },
        { name: `${b}attn_k_norm.weight`, dims: [cfg.headDim] },
      );
    }
    if (n.postAttn) specs.push({ name: `${b}post_attention_norm.weight`, dims: [cfg.nEmbd] });
    if (n.postFfn) specs.push({ name: `${b}post_ffw_norm.weight`, dims: [cfg.nEmbd] });
  }
  return specs;
}

/**
 * Checks presence, shapes and GPU support of the types, and sums the GPU bytes the weights will take.
 * @throws {ModelTensorError} @throws {UnsupportedWeightTypeError} naming the tensor and its type
 */
export function planWeights(cfg: ModelConfig, file: GgufFile): { bytes: number; specs: TensorSpec[] } {
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  let bytes = 0;
  const specs = expectedTensors(cfg, file);
  for (const s of specs) {
    const t = byName.get(s.name);
    if (!t) {
      if (s.optional) continue;
      throw new ModelTensorError(`tensor ${s.name} is missing`);
    }
    if (t.dims.length !== s.dims.length || t.dims.some((d, i) => d !== s.dims[i])) {
      throw new ModelTensorError(`tensor ${s.name} has shape [${t.dims}] but the config implies [${s.dims}]`);
    }
    if (s.dims.length !== 1) requireGpuType(t);
    bytes += s.dims.length === 1 ? s.dims[0]! * 4 : weightBytes(t.type, s.dims[1]!, s.dims[0]!);
  }
  return { bytes, specs };
}

/** Refuses, by tensor and type name, a matrix whose type has no GPU row in the quant registry. */
function requireGpuType(t: GgufTensorInfo): void {
  try {
    gpuQuantRow(t.type);
  } catch (e) {
    const type = ggmlTypeName(t.type).toUpperCase();
    throw new UnsupportedWeightTypeError(`tensor ${t.name} has type ${type}, which has no GPU kernel`, {
      cause: e,
      tensor: t.name,
      weightType: type,
    });
  }
}

/** @throws {ModelTensorError} @throws {import('../gpu/weight-layout.ts').UnsupportedWeightTypeError} */
export async function uploadModelWeights(
  device: GPUDevice,
  cfg: ModelConfig,
  file: GgufFile,
  onTensor?: (loadedBytes: number) => void,
): Promise<ModelWeights> {
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const matrices: GpuWeight[] = [];
  const vectors: GPUBuffer[] = [];
  let loaded = 0;
  let bytes = 0;
  const read = async (t: GgufTensorInfo) => {
    const b = await file.source.read(t.offset, t.byteLength);
    loaded += t.byteLength;
    onTensor?.(loaded);
    return b;
  };
  const info = (name: string): GgufTensorInfo => {
    const t = byName.get(name);
    if (!t) throw new ModelTensorError(`tensor ${name} is missing`);
    return t;
  };
  const keep = (w: GpuWeight): GpuWeight => {
    matrices.push(w);
    bytes += w.bytes;
    return w;
  };
  const staging = new StagingReader(file.source);
  const slices = (t: GgufTensorInfo): TensorBytes => {
    return async (offset, length) => {
      const b = await staging.read(t.offset + offset, length);
      loaded += length;
      onTensor?.(loaded);
      return b;
    };
  };
  const matrix = async (name: string): Promise<GpuWeight> => {
    const t = info(name);
    return keep(await uploadWeightStreamed(device, name, t.type, slices(t), t.dims[1] ?? 1, t.dims[0] ?? 0));
  };
  /** Tensors a fused kernel reads together (q|k|v, gate|up), in one buffer when they can share it. */
  const group = async (label: string, names: string[]): Promise<GpuWeight[]> => {
    const items = names.map(info).map((t) => ({
      name: t.name,
      type: t.type,
      read: slices(t),
      rows: t.dims[1] ?? 1,
      k: t.dims[0] ?? 0,
    }));
    const shared = await uploadWeightGroupStreamed(device, label, items);
    if (shared) return shared.map(keep);
    const out: GpuWeight[] = [];
    for (const i of items)
      out.push(keep(await uploadWeightStreamed(device, i.name, i.type, i.read, i.rows, i.k)));
    return out;
  };
  const vector = async (name: string): Promise<GPUBuffer | undefined> => {
    const t = byName.get(name);
    if (!t) return undefined;
    const raw = await read(t);
    const values =
      t.type === GgmlType.F32
        ? new Float32Array(Uint8Array.from(raw).buffer, 0, t.elements)
        : dequantize(t.type, raw, t.elements);
    const b = uploadF32(device, name, values);
    vectors.push(b);
    bytes += b.size;
    return b;
  };
  const required = async (name: string) => {
    const b = await vector(name);
    if (!b) throw new ModelTensorError(`tensor ${name} is missing`);
    return b;
  };
  const destroy = () => {
    matrices.forEach(destroyWeight);
    vectors.forEach((v) => v.destroy());
  };
  try {
    const tokenEmbd = await matrix('token_embd.weight');
    // Tied embeddings: the output projection reads the embedding table.
    const output = byName.has('output.weight') ? await matrix('output.weight') : tokenEmbd;
    const outputNorm = await required('output_norm.weight');
    // Only architectures whose llama.cpp graph passes rope_freqs to RoPE use it.
    const rf = cfg.ropeFactors ? byName.get('rope_freqs.weight') : undefined;
    const ropeFactors = rf ? dequantize(rf.type, await read(rf), rf.elements) : undefined;
    const layers: LayerWeights[] = [];
    for (let i = 0; i < cfg.nLayer; i++) {
      const b = `blk.${i}.`;
      const attnNorm = cfg.norms.preAttn ? await required(`${b}attn_norm.weight`) : undefined;
      const [wq, wk, wv] = await group(
        `${b}attn_qkv`,
        ['q', 'k', 'v'].map((m) => `${b}attn_${m}.weight`),
      );
      const wo = await matrix(`${b}attn_output.weight`);
      const ffnNorm = cfg.norms.preFfn ? await required(`${b}ffn_norm.weight`) : undefined;
      const [wGate, wUp] = await group(`${b}ffn_gate_up`, [`${b}ffn_gate.weight`, `${b}ffn_up.weight`]);
      const wDown = await matrix(`${b}ffn_down.weight`);
      const layer: LayerWeights = {
        ...(attnNorm ? { attnNorm } : {}),
        wq: wq!,
        wk: wk!,
        wv: wv!,
        wo,
        ...(ffnNorm ? { ffnNorm } : {}),
        wGate: wGate!,
        wUp: wUp!,
        wDown,
      };
      const opt = async <K extends keyof LayerWeights>(key: K, name: string) => {
        const v = await vector(b + name);
        if (v) (layer as unknown as Record<string, GPUBuffer>)[key] = v;
      };
      await opt('bq', 'attn_q.bias');
      await opt('bk', 'attn_k.bias');
      await opt('bv', 'attn_v.bias');
      // Norms only where the architecture's graph has them (a stray tensor is not run).
      if (cfg.norms.qk) {
        await opt('qNorm', 'attn_q_norm.weight');
        await opt('kNorm', 'attn_k_norm.weight');
      }
      if (cfg.norms.postAttn) await opt('attnPostNorm', 'post_attention_norm.weight');
      if (cfg.norms.postFfn) await opt('ffnPostNorm', 'post_ffw_norm.weight');
      layers.push(layer);
    }
    return { tokenEmbd, output, outputNorm, ...(ropeFactors ? { ropeFactors } : {}), layers, bytes, destroy };
  } catch (e) {
    destroy();
    throw e;
  }
}

/**
 * Reads ranges of a source into one reused buffer when the source can (`readInto`), so streaming a
 * model allocates no per-slice arrays; otherwise each read is the source's own (a memory source
 * returns views, a Blob a slice). A returned array is valid only until the next read.
 */
class StagingReader {
  #buf: Uint8Array | undefined;

  constructor(private readonly source: ByteSource) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!this.source.readInto) return this.source.read(offset, length);
    if (!this.#buf || this.#buf.byteLength < length) {
      this.#buf = new Uint8Array(Math.max(length, Math.min(STAGING_SLICE_BYTES, this.source.size)));
    }
    const view = this.#buf.subarray(0, length);
    await this.source.readInto(offset, view);
    return view;
  }
}
