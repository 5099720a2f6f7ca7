/**
 * Exports a llama-architecture GGUF to an ONNX decoder with the input/output layout that ONNX
 * Runtime's generative models use (onnxruntime-genai, transformers.js): inputs `input_ids`,
 * `attention_mask`, `position_ids`, `past_key_values.N.key/value`; outputs `logits`,
 * `present.N.key/value` ([batch, kv_heads, seq, head_dim]). It exists so the benchmark can run the
 * very same weights through onnxruntime-web's WebGPU backend, the browser peer Dure is compared
 * with.
 *
 * Weights: `f32` writes the dequantized GGUF weights exactly (plain MatMul); `q4` writes
 * `com.microsoft.MatMulNBits` (4-bit, blocks of 32, uint4 zero points), the format ONNX Runtime's
 * own int4 exports use and its WebGPU kernels are tuned for. Q4_K's sub-block offsets are not whole
 * steps, so `q4` re-quantizes the dequantized weights (a close copy, not a bit-exact one).
 *
 * Ops: SimplifiedLayerNormalization and com.microsoft.RotaryEmbedding (both implemented by ORT's
 * CPU, WASM and WebGPU providers), attention in plain ONNX ops (MatMul/Softmax with a causal mask
 * built from position_ids and attention_mask, grouped-query heads by reshaping).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DureError } from '../../src/engine/errors.ts';
import { dequantize } from '../../src/engine/gguf/quant/index.ts';
import { readGguf } from '../../src/engine/gguf/reader.ts';
import type { GgufFile } from '../../src/engine/gguf/types.ts';
import { modelConfig, type ModelConfig } from '../../src/engine/model/config.ts';
import { FileSource } from '../../src/node/file-source.ts';
import {
  DataType,
  graphProto,
  modelProto,
  nodeProto,
  tensorProto,
  valueInfoProto,
  type AttrValue,
  type DataTypeCode,
  type Msg,
} from './proto.ts';

/** The GGUF cannot be expressed by this exporter (architecture or features it does not cover). */
export class OnnxExportError extends DureError {
  override name = 'OnnxExportError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ONNX_EXPORT', message, options);
  }
}

export type OnnxWeights = 'f32' | 'q4';

export interface OnnxExportOptions {
  weights: OnnxWeights;
  /** Longest position the rotary tables cover (default: the model's context length). */
  maxPositions?: number;
  /**
   * MatMulNBits `accuracy_level` for `q4` (0: the provider's default; 4: int8 activations, ORT's
   * dp4a path). Default 0.
   */
  accuracyLevel?: 0 | 1 | 2 | 3 | 4;
}

const Q4_BLOCK = 32;

class GraphBuilder {
  readonly nodes: Msg[] = [];
  readonly inits: Msg[] = [];
  #n = 0;
  #consts = new Map<string, string>();

  op(
    op: string,
    inputs: readonly string[],
    attrs?: Readonly<Record<string, AttrValue>>,
    opts: { domain?: string; outputs?: number; name?: string } = {},
  ): string[] {
    const id = opts.name ?? `${op}_${this.#n++}`;
    const outputs = Array.from({ length: opts.outputs ?? 1 }, (_, i) => (i ? `${id}_out${i}` : id));
    this.nodes.push(
      nodeProto({
        op,
        inputs,
        outputs,
        name: id,
        ...(opts.domain ? { domain: opts.domain } : {}),
        ...(attrs ? { attrs } : {}),
      }),
    );
    return outputs;
  }

  /** Single-output op. */
  o(
    op: string,
    inputs: readonly string[],
    attrs?: Readonly<Record<string, AttrValue>>,
    domain?: string,
  ): string {
    return this.op(op, inputs, attrs, domain ? { domain } : {})[0] as string;
  }

  init(name: string, dims: readonly number[], type: DataTypeCode, raw: Uint8Array): string {
    this.inits.push(tensorProto(name, dims, type, raw));
    return name;
  }

  /** An int64 constant (shapes, axes), shared by value. */
  i64(values: readonly number[], scalar = false): string {
    const key = `${scalar ? 's' : 'v'}${values.join(',')}`;
    const hit = this.#consts.get(key);
    if (hit) return hit;
    const raw = new BigInt64Array(values.map((v) => BigInt(v)));
    const name = this.init(
      `const_i64_${this.#consts.size}`,
      scalar ? [] : [values.length],
      DataType.INT64,
      bytesOf(raw),
    );
    this.#consts.set(key, name);
    return name;
  }

  f32(value: number): string {
    const key = `f${value}`;
    const hit = this.#consts.get(key);
    if (hit) return hit;
    const name = this.init(
      `const_f32_${this.#consts.size}`,
      [],
      DataType.FLOAT,
      bytesOf(new Float32Array([value])),
    );
    this.#consts.set(key, name);
    return name;
  }
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Row-major [out, in] → [in, out] for ONNX MatMul's right operand. */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c] as number;
  return t;
}

/**
 * MatMulNBits operands for W [n, k] (row-major, one row per output): 4-bit values two per byte
 * (lower nibble first), one float scale and one uint4 zero point per block of 32 along k.
 */
export function quantizeQ4Blocks(
  w: Float32Array,
  n: number,
  k: number,
): { packed: Uint8Array; scales: Float32Array; zeros: Uint8Array } {
  const blocks = k / Q4_BLOCK;
  const packed = new Uint8Array(n * blocks * (Q4_BLOCK / 2));
  const scales = new Float32Array(n * blocks);
  const zpRow = Math.ceil(blocks / 2);
  const zeros = new Uint8Array(n * zpRow);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      const off = r * k + b * Q4_BLOCK;
      let lo = 0;
      let hi = 0; // the range always includes 0 so zero stays exact
      for (let i = 0; i < Q4_BLOCK; i++) {
        const v = w[off + i] as number;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const scale = (hi - lo) / 15 || 1;
      const zp = Math.min(15, Math.max(0, Math.round(-lo / scale)));
      scales[r * blocks + b] = scale;
      zeros[r * zpRow + (b >> 1)]! |= zp << ((b & 1) * 4);
      const base = (r * blocks + b) * (Q4_BLOCK / 2);
      for (let i = 0; i < Q4_BLOCK; i++) {
        const q = Math.min(15, Math.max(0, Math.round((w[off + i] as number) / scale) + zp));
        packed[base + (i >> 1)]! |= q << ((i & 1) * 4);
      }
    }
  }
  return { packed, scales, zeros };
}

function checkSupported(cfg: ModelConfig, file: GgufFile): void {
  const problems: string[] = [];
  if (cfg.arch !== 'llama') problems.push(`architecture ${cfg.arch} (only llama)`);
  if (cfg.ropeNeox) problems.push('NEOX rotary');
  if (cfg.nRot !== cfg.headDim) problems.push('partial rotary');
  if (cfg.attnSoftcap || cfg.finalSoftcap || cfg.postNorms || cfg.qkNorm || cfg.gelu || cfg.slidingWindow)
    problems.push('gemma/qwen3 features');
  if (file.tensors.some((t) => t.name.endsWith('.bias') || t.name === 'rope_freqs.weight'))
    problems.push('biases or rope frequency factors');
  if (problems.length) throw new OnnxExportError(`cannot export to ONNX: ${problems.join(', ')}`);
}

/**
 * Builds the ONNX model for a llama GGUF.
 * @throws {OnnxExportError} for architectures or features the exporter does not cover.
 */
export async function buildLlamaOnnx(file: GgufFile, opts: OnnxExportOptions): Promise<Msg> {
  const cfg = modelConfig(file);
  checkSupported(cfg, file);
  const { nLayer, nEmbd, nHead, nKv, headDim: hd, nFf, nVocab } = cfg;
  const maxPos = opts.maxPositions ?? cfg.contextLength;
  if (opts.weights === 'q4' && (nEmbd % Q4_BLOCK || nFf % Q4_BLOCK))
    throw new OnnxExportError(`q4 export needs widths that are multiples of ${Q4_BLOCK}`);
  const g = new GraphBuilder();
  const tensor = async (name: string): Promise<Float32Array> => {
    const t = file.tensors.find((x) => x.name === name);
    if (!t) throw new OnnxExportError(`tensor ${name} missing`);
    return dequantize(t.type, await file.source.read(t.offset, t.byteLength), t.elements);
  };

  /** x [.., in] × W^T for the GGUF weight `name` with ggml dims [in, out]. */
  const linear = async (x: string, name: string, inDim: number, outDim: number): Promise<string> => {
    const w = await tensor(name);
    if (opts.weights === 'f32') {
      return g.o('MatMul', [
        x,
        g.init(name, [inDim, outDim], DataType.FLOAT, bytesOf(transpose(w, outDim, inDim))),
      ]);
    }
    const { packed, scales, zeros } = quantizeQ4Blocks(w, outDim, inDim);
    const blocks = inDim / Q4_BLOCK;
    return g.o(
      'MatMulNBits',
      [
        x,
        g.init(`${name}.q4`, [outDim, blocks, Q4_BLOCK / 2], DataType.UINT8, packed),
        g.init(`${name}.scales`, [outDim, blocks], DataType.FLOAT, bytesOf(scales)),
        g.init(`${name}.zp`, [outDim, Math.ceil(blocks / 2)], DataType.UINT8, zeros),
      ],
      { K: inDim, N: outDim, bits: 4, block_size: Q4_BLOCK, accuracy_level: opts.accuracyLevel ?? 0 },
      'com.microsoft',
    );
  };
  const norm = async (x: string, name: string): Promise<string> =>
    g.o(
      'SimplifiedLayerNormalization',
      [x, g.init(name, [nEmbd], DataType.FLOAT, bytesOf(await tensor(name)))],
      {
        axis: -1,
        epsilon: { float: cfg.eps },
        stash_type: 1,
      },
    );

  // Rotary tables [maxPos, hd/2], as llama.cpp computes θ = pos · base^(−2i/d) (no scaling here).
  const cos = new Float32Array(maxPos * (hd / 2));
  const sin = new Float32Array(maxPos * (hd / 2));
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < hd / 2; i++) {
      const theta = p * cfg.ropeScale * cfg.ropeBase ** ((-2 * i) / hd);
      cos[p * (hd / 2) + i] = Math.cos(theta);
      sin[p * (hd / 2) + i] = Math.sin(theta);
    }
  }
  const cosCache = g.init('rope.cos', [maxPos, hd / 2], DataType.FLOAT, bytesOf(cos));
  const sinCache = g.init('rope.sin', [maxPos, hd / 2], DataType.FLOAT, bytesOf(sin));

  // Mask [batch, 1, seq, total]: key j is visible to the query at position p when j ≤ p and
  // attention_mask[j] = 1 (keys are numbered by position: the cache holds positions 0…past−1).
  const qPos = g.o('Unsqueeze', ['position_ids', g.i64([1, 3])]);
  const total = g.o('Shape', ['attention_mask'], { start: 1, end: 2 });
  const keyIdx = g.o('Range', [g.i64([0], true), g.o('Squeeze', [total, g.i64([0])]), g.i64([1], true)]);
  const keyPos = g.o('Unsqueeze', [keyIdx, g.i64([0, 1, 2])]);
  const causal = g.o('LessOrEqual', [keyPos, qPos]);
  const padOk = g.o('Cast', [g.o('Unsqueeze', ['attention_mask', g.i64([1, 2])])], { to: DataType.BOOL });
  const maskBias = g.o('Where', [g.o('And', [causal, padOk]), g.f32(0), g.f32(-1e30)]);

  const inputs: Msg[] = [
    valueInfoProto('input_ids', DataType.INT64, ['batch_size', 'sequence_length']),
    valueInfoProto('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length']),
    valueInfoProto('position_ids', DataType.INT64, ['batch_size', 'sequence_length']),
  ];
  const outputs: Msg[] = [
    valueInfoProto('logits', DataType.FLOAT, ['batch_size', 'sequence_length', nVocab]),
  ];

  const embd = await tensor('token_embd.weight');
  let x = g.o('Gather', [
    g.init('token_embd.weight', [nVocab, nEmbd], DataType.FLOAT, bytesOf(embd)),
    'input_ids',
  ]);
  for (let l = 0; l < nLayer; l++) {
    const b = `blk.${l}.`;
    const pastK = `past_key_values.${l}.key`;
    const pastV = `past_key_values.${l}.value`;
    for (const n of [pastK, pastV])
      inputs.push(valueInfoProto(n, DataType.FLOAT, ['batch_size', nKv, 'past_sequence_length', hd]));

    const h = await norm(x, `${b}attn_norm.weight`);
    const rope = (t: string, heads: number): string =>
      g.o(
        'RotaryEmbedding',
        [t, 'position_ids', cosCache, sinCache],
        { interleaved: 1, num_heads: heads },
        'com.microsoft',
      );
    const q = rope(await linear(h, `${b}attn_q.weight`, nEmbd, nHead * hd), nHead);
    const k = rope(await linear(h, `${b}attn_k.weight`, nEmbd, nKv * hd), nKv);
    const v = await linear(h, `${b}attn_v.weight`, nEmbd, nKv * hd);
    const heads = (t: string, n: number): string =>
      g.o('Transpose', [g.o('Reshape', [t, g.i64([0, 0, n, hd])])], { perm: [0, 2, 1, 3] });
    const presentK = g.op(
      'Concat',
      [pastK, heads(k, nKv)],
      { axis: 2 },
      { name: `present.${l}.key` },
    )[0] as string;
    const presentV = g.op(
      'Concat',
      [pastV, heads(v, nKv)],
      { axis: 2 },
      { name: `present.${l}.value` },
    )[0] as string;
    for (const n of [presentK, presentV])
      outputs.push(valueInfoProto(n, DataType.FLOAT, ['batch_size', nKv, 'total_sequence_length', hd]));

    // Grouped-query attention without repeating K/V: a group's query heads are adjacent
    // (query head h reads KV head ⌊h / group⌋), so [b, H, s, d] → [b, KV, group·s, d].
    const qh = g.o('Mul', [heads(q, nHead), g.f32(cfg.attnScale)]);
    const qg = g.o('Reshape', [qh, g.i64([0, nKv, -1, hd])]);
    const scores = g.o('MatMul', [qg, g.o('Transpose', [presentK], { perm: [0, 1, 3, 2] })]);
    const masked = g.o('Add', [g.o('Reshape', [scores, g.i64([0, nHead, -1, 0])]), maskBias]);
    const probs = g.o('Reshape', [g.o('Softmax', [masked], { axis: -1 }), g.i64([0, nKv, -1, 0])]);
    const ctx = g.o('Reshape', [g.o('MatMul', [probs, presentV]), g.i64([0, nHead, -1, hd])]);
    const merged = g.o('Reshape', [
      g.o('Transpose', [ctx], { perm: [0, 2, 1, 3] }),
      g.i64([0, 0, nHead * hd]),
    ]);
    x = g.o('Add', [x, await linear(merged, `${b}attn_output.weight`, nHead * hd, nEmbd)]);

    const f = await norm(x, `${b}ffn_norm.weight`);
    const gate = await linear(f, `${b}ffn_gate.weight`, nEmbd, nFf);
    const up = await linear(f, `${b}ffn_up.weight`, nEmbd, nFf);
    const act = g.o('Mul', [g.o('Mul', [gate, g.o('Sigmoid', [gate])]), up]);
    x = g.o('Add', [x, await linear(act, `${b}ffn_down.weight`, nFf, nEmbd)]);
  }
  const outName = file.tensors.some((t) => t.name === 'output.weight')
    ? 'output.weight'
    : 'token_embd.weight';
  const final = await norm(x, 'output_norm.weight');
  const logits = await linear(final, outName, nEmbd, nVocab);
  g.op('Identity', [logits], undefined, { name: 'logits' });

  const graph = graphProto({
    name: cfg.name || 'dure-llama',
    nodes: g.nodes,
    initializers: g.inits,
    inputs,
    outputs,
  });
  return modelProto(graph, { '': 17, 'com.microsoft': 1 });
}

/**
 * Exports the GGUF at `ggufPath` to `onnxPath` (written to a temporary name, then renamed).
 * @throws {OnnxExportError} for models the exporter does not cover.
 */
export async function exportLlamaOnnx(
  ggufPath: string,
  onnxPath: string,
  opts: OnnxExportOptions,
): Promise<void> {
  const src = await FileSource.open(ggufPath);
  let model: Msg;
  try {
    model = await buildLlamaOnnx(await readGguf(src), opts);
  } finally {
    await src.close();
  }
  await mkdir(dirname(onnxPath), { recursive: true });
  const tmp = `${onnxPath}.tmp`;
  const out = createWriteStream(tmp);
  for (const p of model.parts)
    if (!out.write(p)) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  await rename(tmp, onnxPath);
}
