/**
 * The backward op of each layer-graph node kind: the trainer walks the same nodes the forward pass
 * is built from (engine/model/layer-graph.ts), in reverse. Every value's gradient has a buffer; the
 * first node to write a value's gradient sets it and later ones add (the residual stream's
 * gradient is set once, by the final norm's backward, and flows through every residual add as is).
 */
import type { Dispatch } from '../engine/gpu/ops.ts';
import { ropeHeads, type ModelConfig } from '../engine/model/config.ts';
import type { EndNode, GraphValue, LayerNode } from '../engine/model/layer-graph.ts';
import type { ProjNode } from '../engine/model/layer-forward.ts';
import type { LayerWeights, ModelWeights } from '../engine/model/weights.ts';
import type { TrainOps } from './train-ops.ts';

export interface BackwardBindings {
  tr: TrainOps;
  cfg: ModelConfig;
  weights: LayerWeights;
  /** Forward values the backward reads (kept per layer by the trainer). */
  value(v: GraphValue): GPUBuffer;
  /** The gradient buffer of a value. */
  grad(v: GraphValue): GPUBuffer;
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  cosSin: GPUBuffer;
  /** The sequence length the attention scratch is sized for. */
  seq: number;
  /** Attention backward scratch (probabilities and their gradients). */
  p: GPUBuffer;
  ds: GPUBuffer;
  /** The LoRA term's backward of projection `node`: adds into the adapter gradients and into dx. */
  loraBackward(node: ProjNode, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer): Promise<Dispatch[]>;
}

const RESIDUAL: readonly GraphValue[] = ['res_in', 'res_mid', 'res_out'];

/** The backward dispatches of a layer: its nodes in reverse, each through its kind's backward op. */
export async function layerBackward(nodes: readonly LayerNode[], b: BackwardBindings): Promise<Dispatch[]> {
  const { tr, cfg, weights: L } = b;
  const written = new Set<GraphValue>(RESIDUAL);
  /** Whether a gradient write adds (the value's gradient already holds a contribution). */
  const adds = (v: GraphValue): boolean => {
    const had = written.has(v);
    written.add(v);
    return had;
  };
  const out: Dispatch[] = [];
  for (const n of [...nodes].reverse()) {
    switch (n.kind) {
      case 'post_norm':
      case 'norm':
      case 'head_norm': {
        const dy = b.grad(n.kind === 'post_norm' ? n.residual.to : n.out);
        const rows = n.kind === 'head_norm' ? { rowsPerToken: n.heads === 'q' ? cfg.nHead : cfg.nKv } : {};
        out.push(
          await tr.normBackward({
            x: b.value(n.x),
            weight: L[n.weight]!,
            dy,
            dx: b.grad(n.x),
            n: n.kind === 'head_norm' ? cfg.headDim : cfg.nEmbd,
            eps: cfg.eps,
            add: adds(n.x),
            ...rows,
          }),
        );
        break;
      }
      case 'proj': {
        const dy = b.grad(n.out);
        const dx = b.grad(n.x);
        out.push(...(await tr.matmulBackward({ weight: L[n.weight], dy, dx, accumulate: adds(n.x) })));
        out.push(...(await b.loraBackward(n, b.value(n.x), dy, dx)));
        break;
      }
      case 'glu':
        out.push(
          await tr.swigluBackward({
            gate: b.value('gate'),
            up: b.value('up'),
            dAct: b.grad('act'),
            dGate: b.grad('gate'),
            dUp: b.grad('up'),
            nFf: cfg.nFf,
            gelu: n.gelu,
          }),
        );
        adds('gate');
        adds('up');
        break;
      case 'attention':
        // Gradients of the rotated q and of the cached k, v (RoPE's backward rotates dq, dk back).
        out.push(
          ...(await tr.attentionBackward({
            q: b.value('q'),
            kCache: b.kCache,
            vCache: b.vCache,
            dOut: b.grad('attn'),
            dq: b.grad('q'),
            dk: b.grad('k'),
            dv: b.grad('v'),
            p: b.p,
            ds: b.ds,
            nHead: cfg.nHead,
            nKv: cfg.nKv,
            headDim: cfg.headDim,
            seq: b.seq,
            scale: cfg.attnScale,
            softcap: cfg.attnSoftcap,
            window: n.window,
          })),
        );
        adds('q');
        adds('k');
        adds('v');
        break;
      case 'rope_store':
        out.push(
          await tr.ropeBackward({
            dq: b.grad('q'),
            dk: b.grad('k'),
            cosSin: b.cosSin,
            ...ropeHeads(cfg),
          }),
        );
        break;
    }
  }
  return out;
}

/**
 * The backward of the model's end nodes after the layers, in reverse: the logits product (its
 * gradient is in `logits`, where the cross-entropy wrote it) and the final norm, which sets the
 * residual stream's gradient. The embedding is frozen: nothing flows into it.
 */
export async function endBackward(
  nodes: readonly EndNode[],
  b: {
    tr: TrainOps;
    cfg: ModelConfig;
    weights: ModelWeights;
    hidden: GPUBuffer;
    logits: GPUBuffer;
    dNormed: GPUBuffer;
    dHidden: GPUBuffer;
  },
): Promise<Dispatch[]> {
  const out: Dispatch[] = [];
  for (const n of [...nodes].reverse()) {
    if (n.kind === 'logits')
      out.push(
        ...(await b.tr.matmulBackward({
          weight: b.weights.output,
          dy: b.logits,
          dx: b.dNormed,
          accumulate: false,
        })),
      );
    else if (n.kind === 'final_norm')
      out.push(
        await b.tr.normBackward({
          x: b.hidden,
          weight: b.weights.outputNorm,
          dy: b.dNormed,
          dx: b.dHidden,
          n: b.cfg.nEmbd,
          eps: b.cfg.eps,
          add: false,
        }),
      );
  }
  return out;
}
