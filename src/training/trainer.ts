/**
 * LoRA training on WebGPU over a frozen, quantized base model (issue #8). One sequence at a time
 * runs forward (activations of every layer kept), cross-entropy over the answer tokens, and
 * backward through the dequantized base weights, RMSNorm, RoPE, attention and SwiGLU into the LoRA
 * gradients, which accumulate over the step's sequences before one AdamW update. Every dispatch is
 * built once here; a step reads back 4 bytes (the loss). Logits are computed only for the rows
 * that carry loss (the answer), a bounded number of rows at a time (`logitRows`): a vocabulary of
 * 150–260k tokens would otherwise need S × vocab floats (311 MB for Qwen2.5 at 512 tokens) and
 * spend a third of a small model's step on prompt rows whose loss is zero.
 * The layer is not written out here: forward walks the same layer graph the inference pass is
 * built from (engine/model/layer-graph.ts, layer-forward.ts), keeping every value backward reads,
 * and backward walks it in reverse with one backward op per node kind (layer-backward.ts), so every
 * architecture the engine runs trains, and a change to a layer's order changes both at once.
 */
import { KernelLibrary } from '../engine/gpu/kernel-library.ts';
import { Ops, recordDispatches, type Dispatch } from '../engine/gpu/ops.ts';
import { encodeStep, STEP_BYTES } from '../engine/gpu/params.ts';
import { UniformArena } from '../engine/gpu/uniform-arena.ts';
import { readGguf, type ByteSource } from '../engine/gguf/index.ts';
import { modelConfig, type ModelConfig } from '../engine/model/config.ts';
import {
  buildEndGraph,
  buildLayerGraph,
  valueWidth,
  type GraphValue,
  type LayerNode,
} from '../engine/model/layer-graph.ts';
import { endForward, layerForward, type LayerBindings } from '../engine/model/layer-forward.ts';
import { layerRopeTables } from '../engine/model/rope-table.ts';
import { uploadModelWeights, type ModelWeights } from '../engine/model/weights.ts';
import type {
  EvalResult,
  LoraTensors,
  LoraTrainer,
  OptimizerOptions,
  StepResult,
  TrainerOptions,
  TrainExample,
} from './api.ts';
import { TrainingDataError, TrainingUnsupportedError } from './errors.ts';
import { loraLayout, packAdapter, unpackAdapter, type LoraLayout, type LoraSlot } from './lora-layout.ts';
import { endBackward, layerBackward } from './layer-backward.ts';
import { encodeAdamParams, TrainOps } from './train-ops.ts';

const F32 = 4;
const ADAM_BYTES = 48;
/** The logits buffer's budget: rows × vocab floats stay within it (and within the binding limit). */
const LOGITS_BYTES = 64 * 1024 * 1024;

/** How many rows of logits the trainer computes at once for this vocabulary. */
export function logitRows(nVocab: number, maxSeqLen: number, maxBindingBytes: number): number {
  const budget = Math.min(LOGITS_BYTES, maxBindingBytes);
  return Math.max(1, Math.min(maxSeqLen, Math.floor(budget / (nVocab * F32))));
}

/**
 * Creates a trainer for `source` (a GGUF) with the given starting adapter. The source is read only
 * here (the weights go to the GPU); the caller keeps it and closes it.
 * @throws {TrainingUnsupportedError} for a layer shape without a backward (pre/post norms on one sub-block only).
 * @throws {import('./errors.ts').AdapterMismatchError} when the adapter does not fit the model.
 */
export async function createLoraTrainer(
  device: GPUDevice,
  source: ByteSource,
  options: TrainerOptions,
): Promise<LoraTrainer> {
  const file = await readGguf(source);
  const cfg = modelConfig(file);
  checkTrainable(cfg);
  const layout = loraLayout(cfg, options.adapter);
  const packed = packAdapter(layout, options.adapter);
  if (!Number.isInteger(options.maxSeqLen) || options.maxSeqLen < 2)
    throw new TrainingDataError(`maxSeqLen ${options.maxSeqLen} must be an integer ≥ 2`);
  if (
    options.maxLogitRows !== undefined &&
    !(Number.isInteger(options.maxLogitRows) && options.maxLogitRows >= 1)
  )
    throw new TrainingDataError(`maxLogitRows ${options.maxLogitRows} must be an integer ≥ 1`);
  const weights = await uploadModelWeights(device, cfg, file);
  const subgroups = (options.subgroups ?? true) && device.features.has('subgroups');
  const t = new WebGpuLoraTrainer(device, cfg, weights, layout, options, subgroups);
  try {
    await t.build();
    t.writeAdapter(packed);
  } catch (e) {
    t.dispose();
    throw e;
  }
  return t;
}

/**
 * The trainer's layer follows the config's norms (pre, post, per-head q/k or none) and per-layer
 * RoPE; what it has no backward for yet is refused.
 */
function checkTrainable(cfg: ModelConfig): void {
  const why: string[] = [];
  if (cfg.norms.preAttn !== cfg.norms.preFfn || cfg.norms.postAttn !== cfg.norms.postFfn)
    why.push('pre/post norms on only one sub-block');
  if (cfg.headDim > 256) why.push(`head_dim ${cfg.headDim} > 256`);
  if (why.length)
    throw new TrainingUnsupportedError(
      `LoRA training does not support ${cfg.arch} yet (${why.join(', ')}); llama, qwen2, qwen3, gemma2, gemma3, exaone and exaone4 are supported`,
    );
}

/**
 * The kernels of a trainer's forward, in order (a test compares them with the inference forward's:
 * both are walks of one layer graph).
 */
export function trainerForwardKernelLabels(t: LoraTrainer): string[] {
  if (!(t instanceof WebGpuLoraTrainer)) throw new TypeError('not a WebGPU LoRA trainer');
  return t.forwardKernelLabels;
}

class WebGpuLoraTrainer implements LoraTrainer {
  readonly maxSeqLen: number;
  readonly #device: GPUDevice;
  readonly #arena: UniformArena;
  readonly #stepUniform: GPUBuffer;
  readonly #stepData = new ArrayBuffer(STEP_BYTES);
  readonly #ops: Ops;
  readonly #train: TrainOps;
  // The head (logits, loss and their backward) runs over a window of rows with its own token count.
  readonly #headStep: GPUBuffer;
  readonly #headStepData = new ArrayBuffer(STEP_BYTES);
  readonly #headOps: Ops;
  readonly #headTrain: TrainOps;
  readonly #headRows: number;
  readonly #buffers: GPUBuffer[] = [];
  readonly #opt: Required<OptimizerOptions>;
  #adamSteps = 0;
  /** When set, every dispatch runs alone and its wall time is added here by kernel label (slow). */
  readonly #profile: Map<string, number> | undefined;
  // Packed LoRA state.
  #pA!: GPUBuffer;
  #pB!: GPUBuffer;
  #gA!: GPUBuffer;
  #gB!: GPUBuffer;
  #mA!: GPUBuffer;
  #vA!: GPUBuffer;
  #mB!: GPUBuffer;
  #vB!: GPUBuffer;
  #anchorA!: GPUBuffer;
  #anchorB!: GPUBuffer;
  #adamUniformA!: GPUBuffer;
  #adamUniformB!: GPUBuffer;
  #adamGridA = 1;
  #adamGridB = 1;
  // Per-sequence inputs and the loss.
  #ids!: GPUBuffer;
  #targets!: GPUBuffer;
  #weights!: GPUBuffer;
  #total!: GPUBuffer;
  #readTotal!: GPUBuffer;
  #forward: Dispatch[] = [];
  #head: Dispatch[] = [];
  #loss: Dispatch[] = [];
  #headBackward: Dispatch[] = [];
  #backward: Dispatch[] = [];
  #finalNorm!: GPUBuffer;
  #dNormed!: GPUBuffer;
  #headIn!: GPUBuffer;
  #dHeadIn!: GPUBuffer;
  #adamA!: Dispatch;
  #adamB!: Dispatch;

  get forwardKernelLabels(): string[] {
    return [...this.#forward, ...this.#head].map((d) => d.kernel.label);
  }

  constructor(
    device: GPUDevice,
    readonly cfg: ModelConfig,
    readonly weights: ModelWeights,
    readonly layout: LoraLayout,
    options: TrainerOptions,
    subgroups: boolean,
  ) {
    this.#device = device;
    this.maxSeqLen = options.maxSeqLen;
    this.#profile = options.profile;
    this.#arena = new UniformArena(device);
    this.#stepUniform = device.createBuffer({
      label: 'train-step',
      size: STEP_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const lib = KernelLibrary.for(device);
    this.#ops = new Ops(lib, this.#arena, this.#stepUniform, { subgroups });
    this.#train = new TrainOps(lib, this.#arena, this.#stepUniform, subgroups);
    this.#headStep = device.createBuffer({
      label: 'train-head-step',
      size: STEP_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.#headOps = new Ops(lib, this.#arena, this.#headStep, { subgroups });
    this.#headTrain = new TrainOps(lib, this.#arena, this.#headStep, subgroups);
    this.#headRows = Math.min(
      options.maxLogitRows ?? Infinity,
      logitRows(cfg.nVocab, this.maxSeqLen, device.limits.maxStorageBufferBindingSize),
    );
    const o = options.optimizer;
    this.#opt = {
      learningRate: o.learningRate,
      beta1: o.beta1 ?? 0.9,
      beta2: o.beta2 ?? 0.999,
      eps: o.eps ?? 1e-8,
      weightDecay: o.weightDecay ?? 0,
      trainA: o.trainA ?? true,
      proximalMu: o.proximalMu ?? 0,
    };
  }

  #storage(label: string, floats: number): GPUBuffer {
    const b = this.#device.createBuffer({
      label,
      size: Math.max(16, Math.ceil((floats * F32) / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    this.#buffers.push(b);
    return b;
  }

  #uniform(label: string, bytes: number): GPUBuffer {
    const b = this.#device.createBuffer({
      label,
      size: bytes,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.#buffers.push(b);
    return b;
  }

  async build(): Promise<void> {
    const { cfg, layout } = this;
    const w = this.weights;
    const ops = this.#ops;
    const tr = this.#train;
    const S = this.maxSeqLen;
    const d = cfg.nEmbd;
    const q = cfg.nHead * cfg.headDim;
    const kvw = cfg.nKv * cfg.headDim;
    const ff = cfg.nFf;
    const r = layout.rank;

    this.#pA = this.#storage('lora-a', layout.floatsA);
    this.#pB = this.#storage('lora-b', layout.floatsB);
    this.#gA = this.#storage('grad-a', layout.floatsA);
    this.#gB = this.#storage('grad-b', layout.floatsB);
    this.#mA = this.#storage('adam-m-a', layout.floatsA);
    this.#vA = this.#storage('adam-v-a', layout.floatsA);
    this.#mB = this.#storage('adam-m-b', layout.floatsB);
    this.#vB = this.#storage('adam-v-b', layout.floatsB);
    this.#anchorA = this.#storage('anchor-a', layout.floatsA);
    this.#anchorB = this.#storage('anchor-b', layout.floatsB);
    this.#adamUniformA = this.#uniform('adam-a', ADAM_BYTES);
    this.#adamUniformB = this.#uniform('adam-b', ADAM_BYTES);
    this.#ids = this.#storage('ids', S);
    this.#targets = this.#storage('targets', S);
    this.#weights = this.#storage('loss-weights', S);
    this.#total = this.#storage('loss-total', 4);
    this.#readTotal = this.#device.createBuffer({
      label: 'read-loss',
      size: 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });

    // One cos/sin table per distinct layer RoPE (YaRN included), as the forward pass builds them;
    // a layer without RoPE reads an identity table, whose backward is the identity too.
    const ropes = layerRopeTables(cfg, S, w.ropeFactors);
    const ofLayer = ropes.ofLayer;
    const cosSin = ropes.tables.map((table, v) => {
      const buf = this.#storage(`rope-cos-sin-${v}`, table.length);
      this.#device.queue.writeBuffer(buf, 0, table);
      return buf;
    });

    // Shared scratch.
    const kb = this.#storage('k', S * kvw);
    const vb = this.#storage('v', S * kvw);
    const u = this.#storage('lora-u', S * r);
    const H = this.#headRows;
    const logits = this.#storage('logits', H * cfg.nVocab);
    const tokenLoss = this.#storage('token-loss', H);
    const finalNorm = (this.#finalNorm = this.#storage('final-norm', S * d));
    const headIn = (this.#headIn = this.#storage('head-in', H * d));
    const dHeadIn = (this.#dHeadIn = this.#storage('d-head-in', H * d));
    const dH = this.#storage('d-hidden', S * d);
    const dXn = (this.#dNormed = this.#storage('d-normed', S * d));
    const dAttn = this.#storage('d-attn', S * q);
    const dq = this.#storage('d-q', S * q);
    const dk = this.#storage('d-k', S * kvw);
    const dv = this.#storage('d-v', S * kvw);
    const dAct = this.#storage('d-act', S * ff);
    const dGate = this.#storage('d-gate', S * ff);
    const dUp = this.#storage('d-up', S * ff);
    // One gradient buffer per graph value, shared by every layer (backward runs layer by layer);
    // the residual stream has one gradient through all its adds, the two post-norm inputs share one.
    const gradOf: Partial<Record<GraphValue, GPUBuffer>> = {
      res_in: dH,
      res_mid: dH,
      res_out: dH,
      xn_attn: dXn,
      xn_ffn: dXn,
      attn: dAttn,
      q: dq,
      k: dk,
      kv_cache: dk,
      v: dv,
      act: dAct,
      gate: dGate,
      up: dUp,
    };
    const grad = (v: GraphValue): GPUBuffer => {
      const key = v === 'down' ? 'o' : v;
      return (gradOf[key] ??= this.#storage(`d-${key}`, S * valueWidth(cfg, key)));
    };
    const pBuf = this.#storage('attn-p', cfg.nHead * S * S);
    const dsBuf = this.#storage('attn-ds', cfg.nHead * S * S);

    const slot = (layer: number, module: string): LoraSlot | undefined =>
      layout.slots.find((s) => s.layer === layer && s.module === module);
    const range = (buf: GPUBuffer, offset: number, floats: number): GPUBufferBinding => ({
      buffer: buf,
      offset: offset * F32,
      size: floats * F32,
    });
    const loraT = new Map<LoraSlot, GPUBuffer>();
    for (const s of layout.slots) loraT.set(s, this.#storage(`lora-t-${s.layer}-${s.module}`, S * r));

    /** Forward LoRA term: y += scale · (x Aᵀ) Bᵀ, with x Aᵀ kept for backward. */
    const loraForward = async (s: LoraSlot | undefined, x: GPUBuffer, y: GPUBuffer): Promise<Dispatch[]> => {
      if (!s) return [];
      const tBuf = loraT.get(s)!;
      return [
        await tr.gemm({
          a: x,
          b: range(this.#pA, s.offsetA, r * s.inFeatures),
          c: tBuf,
          m: S,
          n: r,
          k: s.inFeatures,
          lda: s.inFeatures,
          ldb: s.inFeatures,
          ldc: r,
          transA: false,
          transB: true,
          alpha: 1,
          beta: 0,
          tokensDim: 'm',
        }),
        await tr.gemm({
          a: tBuf,
          b: range(this.#pB, s.offsetB, s.outFeatures * r),
          c: y,
          m: S,
          n: s.outFeatures,
          k: r,
          lda: r,
          ldb: r,
          ldc: s.outFeatures,
          transA: false,
          transB: true,
          alpha: layout.scale,
          beta: 1,
          tokensDim: 'm',
        }),
      ];
    };

    /** Backward LoRA term: dB += s·dyᵀ t, u = s·dy B, dA += uᵀ x, dx += u A. */
    const loraBackward = async (
      s: LoraSlot | undefined,
      x: GPUBuffer,
      dy: GPUBuffer,
      dx: GPUBuffer,
    ): Promise<Dispatch[]> => {
      if (!s) return [];
      const A = range(this.#pA, s.offsetA, r * s.inFeatures);
      const B = range(this.#pB, s.offsetB, s.outFeatures * r);
      const out: Dispatch[] = [
        await tr.gemm({
          a: dy,
          b: loraT.get(s)!,
          c: range(this.#gB, s.offsetB, s.outFeatures * r),
          m: s.outFeatures,
          n: r,
          k: S,
          lda: s.outFeatures,
          ldb: r,
          ldc: r,
          transA: true,
          transB: false,
          alpha: layout.scale,
          beta: 1,
          tokensDim: 'k',
        }),
        await tr.gemm({
          a: dy,
          b: B,
          c: u,
          m: S,
          n: r,
          k: s.outFeatures,
          lda: s.outFeatures,
          ldb: r,
          ldc: r,
          transA: false,
          transB: false,
          alpha: layout.scale,
          beta: 0,
          tokensDim: 'm',
        }),
      ];
      if (this.#opt.trainA) {
        out.push(
          await tr.gemm({
            a: u,
            b: x,
            c: range(this.#gA, s.offsetA, r * s.inFeatures),
            m: r,
            n: s.inFeatures,
            k: S,
            lda: r,
            ldb: s.inFeatures,
            ldc: s.inFeatures,
            transA: true,
            transB: false,
            alpha: 1,
            beta: 1,
            tokensDim: 'k',
          }),
        );
      }
      out.push(
        await tr.gemm({
          a: u,
          b: A,
          c: dx,
          m: S,
          n: s.inFeatures,
          k: r,
          lda: r,
          ldb: s.inFeatures,
          ldc: s.inFeatures,
          transA: false,
          transB: false,
          alpha: 1,
          beta: 1,
          tokensDim: 'm',
        }),
      );
      return out;
    };

    const copy = async (src: GPUBuffer, dst: GPUBuffer): Promise<Dispatch> => {
      const kernel = await ops.lib.get({ family: 'copy', entryPoint: 'copy4', workgroupSize: 256 });
      const bindGroup = this.#device.createBindGroup({
        label: kernel.label,
        layout: kernel.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: src } },
          { binding: 1, resource: { buffer: dst } },
        ],
      });
      const groups = Math.ceil(dst.size / 16 / 256);
      return { kernel, bindGroup, grid: () => [groups, 1, 1] };
    };
    // ---- forward, keeping every layer's activations: the layer graph walked in order ----
    const res: GPUBuffer[] = [this.#storage('res-0', S * d)];
    const ends = buildEndGraph(cfg);
    const fwd: Dispatch[] = [];
    const endBindings = (hidden: GPUBuffer) => ({
      ops,
      cfg,
      weights: w,
      ids: this.#ids,
      hidden,
      normed: finalNorm,
      logits,
    });
    // The logits node runs apart, over a window of rows (the head); the rest of the ends with the body.
    const headEnds = ends.after.filter((n) => n.kind === 'logits');
    const bodyEnds = ends.after.filter((n) => n.kind !== 'logits');
    fwd.push(...(await endForward(ends.before, endBindings(res[0]!))));
    /** What a layer's backward needs: its graph and the buffers its values were written to. */
    interface LayerRun {
      nodes: LayerNode[];
      values: Map<GraphValue, GPUBuffer>;
      kCache: GPUBuffer;
      vCache: GPUBuffer;
    }
    // k and v as RoPE takes them are read by nothing after rope_store: one scratch for all layers.
    const scratch = new Map<GraphValue, GPUBuffer>([
      ['k', kb],
      ['v', vb],
    ]);
    const runs: LayerRun[] = [];
    for (let i = 0; i < cfg.nLayer; i++) {
      const L = w.layers[i]!;
      const nodes = buildLayerGraph(cfg, i, L);
      const values = new Map<GraphValue, GPUBuffer>([['res_in', res[i]!]]);
      const value = (v: GraphValue): GPUBuffer => {
        let b = values.get(v) ?? scratch.get(v);
        if (!b) {
          b = this.#storage(`${v}-${i}`, S * valueWidth(cfg, v));
          values.set(v, b);
        }
        return b;
      };
      const run: LayerRun = {
        nodes,
        values,
        kCache: this.#storage(`k-cache-${i}`, S * kvw),
        vCache: this.#storage(`v-cache-${i}`, S * kvw),
      };
      runs.push(run);
      const bindings: LayerBindings<Dispatch> = {
        ops,
        cfg,
        weights: L,
        value,
        kCache: run.kCache,
        vCache: run.vCache,
        cosSin: cosSin[ofLayer[i]!]!,
        afterProj: (n, x, out) => loraForward(slot(i, n.name), x, out),
        // The stream before an add stays for backward (a norm's input): the add goes into a copy.
        beforeResidual: async (from, to) => [await copy(from, to)],
      };
      fwd.push(...(await layerForward(nodes, bindings)));
      res.push(value('res_out'));
    }
    const last = res[cfg.nLayer]!;
    fwd.push(...(await endForward(bodyEnds, endBindings(last))));
    this.#forward = fwd;
    // The head reads a window of final-norm rows copied into headIn (see #run).
    this.#head = await endForward(headEnds, {
      ...endBindings(last),
      ops: this.#headOps,
      normed: headIn,
    });
    this.#loss = await this.#headTrain.crossEntropy({
      logits,
      targets: this.#targets,
      weights: this.#weights,
      tokenLoss,
      total: this.#total,
      nVocab: cfg.nVocab,
      softcap: cfg.finalSoftcap,
    });

    // ---- backward ----
    const endBackwardBindings = { tr, cfg, weights: w, hidden: last, logits, dNormed: dXn, dHidden: dH };
    this.#headBackward = await endBackward(headEnds, {
      ...endBackwardBindings,
      tr: this.#headTrain,
      dNormed: dHeadIn,
    });
    const bwd: Dispatch[] = [];
    bwd.push(...(await endBackward(bodyEnds, endBackwardBindings)));
    for (let i = cfg.nLayer - 1; i >= 0; i--) {
      const run = runs[i]!;
      bwd.push(
        ...(await layerBackward(run.nodes, {
          tr,
          cfg,
          weights: w.layers[i]!,
          value: (v) => run.values.get(v) ?? scratch.get(v)!,
          grad,
          kCache: run.kCache,
          vCache: run.vCache,
          cosSin: cosSin[ofLayer[i]!]!,
          seq: S,
          p: pBuf,
          ds: dsBuf,
          loraBackward: (n, x, dy, dx) => loraBackward(slot(i, n.name), x, dy, dx),
        })),
      );
    }
    this.#backward = bwd;

    const a = await tr.adamw({
      params: this.#pA,
      grads: this.#gA,
      m: this.#mA,
      v: this.#vA,
      anchor: this.#anchorA,
      uniform: this.#adamUniformA,
      n: layout.floatsA,
    });
    const b = await tr.adamw({
      params: this.#pB,
      grads: this.#gB,
      m: this.#mB,
      v: this.#vB,
      anchor: this.#anchorB,
      uniform: this.#adamUniformB,
      n: layout.floatsB,
    });
    this.#adamA = a.dispatch;
    this.#adamGridA = a.gridX;
    this.#adamB = b.dispatch;
    this.#adamGridB = b.gridX;
  }

  /** Writes packed adapter values, makes them the proximal anchor and resets the optimizer. */
  writeAdapter(p: { a: Float32Array; b: Float32Array }): void {
    const q = this.#device.queue;
    for (const [buf, data] of [
      [this.#pA, p.a],
      [this.#anchorA, p.a],
      [this.#pB, p.b],
      [this.#anchorB, p.b],
    ] as const) {
      q.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
    }
    const enc = this.#device.createCommandEncoder({ label: 'reset-optimizer' });
    for (const b of [this.#mA, this.#vA, this.#mB, this.#vB]) enc.clearBuffer(b);
    q.submit([enc.finish()]);
    this.#adamSteps = 0;
  }

  async setAdapter(adapter: LoraTensors): Promise<void> {
    this.writeAdapter(packAdapter(this.layout, adapter));
    await this.#device.queue.onSubmittedWorkDone();
  }

  async getAdapter(): Promise<LoraTensors> {
    const [a, b] = await Promise.all([this.#read(this.#pA), this.#read(this.#pB)]);
    return {
      rank: this.layout.rank,
      alpha: this.layout.alpha,
      targetModules: [...this.layout.targetModules],
      tensors: unpackAdapter(this.layout, a, b),
    };
  }

  async #read(buf: GPUBuffer): Promise<Float32Array> {
    const staging = this.#device.createBuffer({
      size: buf.size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const enc = this.#device.createCommandEncoder();
      enc.copyBufferToBuffer(buf, 0, staging, 0, buf.size);
      this.#device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      return new Float32Array(staging.getMappedRange().slice(0));
    } finally {
      staging.destroy();
    }
  }

  /** Checks examples and returns the number of trained tokens. */
  #check(examples: TrainExample[]): number {
    if (examples.length === 0) throw new TrainingDataError('no examples');
    let tokens = 0;
    examples.forEach((ex, e) => {
      const n = ex.ids.length;
      if (n < 2 || n > this.maxSeqLen)
        throw new TrainingDataError(`example ${e} has ${n} tokens; the trainer takes 2..${this.maxSeqLen}`);
      if (ex.lossMask.length !== n)
        throw new TrainingDataError(
          `example ${e}: lossMask has ${ex.lossMask.length} entries for ${n} tokens`,
        );
      for (let t = 0; t < n; t++) {
        if (ex.ids[t]! >= this.cfg.nVocab)
          throw new TrainingDataError(`example ${e}: token id ${ex.ids[t]} is outside the vocabulary`);
        if (t > 0 && ex.lossMask[t]) tokens++;
      }
    });
    if (tokens === 0) throw new TrainingDataError('the examples have no answer tokens to train on');
    return tokens;
  }

  /**
   * Runs every example forward (and backward when `backward`), summing the weighted token losses
   * into the total; returns the total. Gradients accumulate into the grad buffers.
   *
   * Per example: the body forward over all n tokens; then the head over the window of rows from
   * the first to the last one with loss, at most `#headRows` at a time (final-norm rows copied in,
   * logits, loss, and when training the logits' backward copied back into the final norm's
   * gradient, which is zero outside the window); then the body backward.
   */
  async #run(
    examples: TrainExample[],
    weight: number,
    backward: boolean,
    clearGrads: boolean,
  ): Promise<number> {
    const q = this.#device.queue;
    const d = this.cfg.nEmbd * F32;
    const H = this.#headRows;
    const targets = new Uint32Array(H);
    const weights = new Float32Array(H);
    await this.#submit('clear', [], 1, (enc) => {
      enc.clearBuffer(this.#total);
      if (clearGrads) {
        enc.clearBuffer(this.#gA);
        enc.clearBuffer(this.#gB);
      }
    });
    for (const ex of examples) {
      const n = ex.ids.length;
      // Row t predicts ids[t + 1]: the window is the rows whose target is an answer token.
      let lo = n;
      let hi = -1;
      for (let t = 0; t + 1 < n; t++) {
        if (!ex.lossMask[t + 1]) continue;
        lo = Math.min(lo, t);
        hi = t;
      }
      if (hi < 0) continue; // nothing to learn from this one (its loss weight is zero everywhere)
      q.writeBuffer(this.#ids, 0, ex.ids.buffer, ex.ids.byteOffset, ex.ids.byteLength);
      q.writeBuffer(this.#stepUniform, 0, encodeStep({ nTokens: n, pos: 0 }, this.#stepData));
      await this.#submit(backward ? 'train-sequence' : 'eval-sequence', this.#forward, n, (enc) => {
        if (backward) enc.clearBuffer(this.#dNormed);
      });
      for (let c0 = lo; c0 <= hi; c0 += H) {
        const m = Math.min(H, hi + 1 - c0);
        targets.fill(0);
        weights.fill(0);
        let trained = 0;
        for (let j = 0; j < m; j++) {
          targets[j] = ex.ids[c0 + j + 1]!;
          weights[j] = ex.lossMask[c0 + j + 1] ? weight : 0;
          trained += ex.lossMask[c0 + j + 1] ? 1 : 0;
        }
        // A chunk inside a gap between answers (a later turn) adds no loss and no gradient.
        if (trained === 0) continue;
        q.writeBuffer(this.#targets, 0, targets);
        q.writeBuffer(this.#weights, 0, weights);
        q.writeBuffer(this.#headStep, 0, encodeStep({ nTokens: m, pos: 0 }, this.#headStepData));
        await this.#submit(
          'head',
          [...this.#head, ...this.#loss, ...(backward ? this.#headBackward : [])],
          m,
          (enc) => enc.copyBufferToBuffer(this.#finalNorm, c0 * d, this.#headIn, 0, m * d),
          backward
            ? (enc) => enc.copyBufferToBuffer(this.#dHeadIn, 0, this.#dNormed, c0 * d, m * d)
            : undefined,
        );
      }
      if (backward) await this.#submit('train-sequence-backward', this.#backward, n);
    }
    return this.#readLoss();
  }

  /**
   * One command buffer: `before` copies, the dispatches for `n` tokens in one pass, `after` copies.
   * When profiling, every dispatch is submitted alone and timed instead.
   */
  async #submit(
    label: string,
    dispatches: Dispatch[],
    n: number,
    before?: (enc: GPUCommandEncoder) => void,
    after?: (enc: GPUCommandEncoder) => void,
  ): Promise<void> {
    const q = this.#device.queue;
    const prof = this.#profile;
    const enc = this.#device.createCommandEncoder({ label });
    before?.(enc);
    if (!prof) {
      if (dispatches.length > 0) {
        const pass = enc.beginComputePass();
        recordDispatches(pass, dispatches, n);
        pass.end();
      }
      after?.(enc);
      q.submit([enc.finish()]);
      return;
    }
    q.submit([enc.finish()]);
    for (const d of dispatches) {
      const t0 = performance.now();
      const e2 = this.#device.createCommandEncoder();
      const ps = e2.beginComputePass();
      recordDispatches(ps, [d], n);
      ps.end();
      q.submit([e2.finish()]);
      await q.onSubmittedWorkDone();
      prof.set(d.kernel.label, (prof.get(d.kernel.label) ?? 0) + performance.now() - t0);
    }
    if (after) {
      const e3 = this.#device.createCommandEncoder();
      after(e3);
      q.submit([e3.finish()]);
    }
  }

  async #readLoss(): Promise<number> {
    const enc = this.#device.createCommandEncoder();
    enc.copyBufferToBuffer(this.#total, 0, this.#readTotal, 0, 4);
    this.#device.queue.submit([enc.finish()]);
    await this.#readTotal.mapAsync(GPUMapMode.READ);
    try {
      return new Float32Array(this.#readTotal.getMappedRange(0, 4))[0]!;
    } finally {
      this.#readTotal.unmap();
    }
  }

  async gradients(
    examples: TrainExample[],
  ): Promise<{ loss: number; tokens: number; grads: Map<string, Float32Array> }> {
    const tokens = this.#check(examples);
    const loss = await this.#run(examples, 1 / tokens, true, true);
    const [a, b] = await Promise.all([
      this.#opt.trainA ? this.#read(this.#gA) : Promise.resolve(undefined),
      this.#read(this.#gB),
    ]);
    return { loss, tokens, grads: unpackAdapter(this.layout, a, b) };
  }

  /**
   * One optimizer step. Gradient accumulation is built in: every example is its own micro-batch
   * (one sequence's activations in memory at a time) and their gradients are summed, each trained
   * token weighted 1/N over the whole step, before AdamW.
   */
  async step(examples: TrainExample[]): Promise<StepResult> {
    const tokens = this.#check(examples);
    const loss = await this.#run(examples, 1 / tokens, true, true);
    this.#adamSteps++;
    const o = this.#opt;
    const common = {
      lr: o.learningRate,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weightDecay: o.weightDecay,
      biasCorrection1: 1 - Math.pow(o.beta1, this.#adamSteps),
      biasCorrection2: 1 - Math.pow(o.beta2, this.#adamSteps),
      mu: o.proximalMu,
    };
    const q = this.#device.queue;
    q.writeBuffer(
      this.#adamUniformA,
      0,
      encodeAdamParams({ ...common, n: this.layout.floatsA, gridX: this.#adamGridA }),
    );
    q.writeBuffer(
      this.#adamUniformB,
      0,
      encodeAdamParams({ ...common, n: this.layout.floatsB, gridX: this.#adamGridB }),
    );
    const enc = this.#device.createCommandEncoder({ label: 'adamw' });
    const pass = enc.beginComputePass();
    recordDispatches(pass, o.trainA ? [this.#adamA, this.#adamB] : [this.#adamB], 1);
    pass.end();
    q.submit([enc.finish()]);
    await q.onSubmittedWorkDone();
    return { loss, tokens };
  }

  async evaluate(examples: TrainExample[]): Promise<EvalResult> {
    const tokens = this.#check(examples);
    const total = await this.#run(examples, 1, false, false);
    const loss = total / tokens;
    return { loss, perplexity: Math.exp(loss), tokens };
  }

  dispose(): void {
    for (const b of this.#buffers) b.destroy();
    this.#buffers.length = 0;
    this.#readTotal?.destroy();
    this.#stepUniform.destroy();
    this.#headStep.destroy();
    this.#arena.destroy();
    this.weights.destroy();
  }
}
