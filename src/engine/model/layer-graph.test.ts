/**
 * The layer graph of every architecture, from metadata alone (no GPU): the node order each spec
 * yields, per-layer windows, the fused runs inference may rewrite, and the value flow (every node
 * reads only values written before it), which is what lets the trainer walk it in reverse.
 */
import { describe, expect, it } from 'vitest';
import type { GgufFile, GgufKv } from '../gguf/types.ts';
import { kv } from '../../tools/gguf/writer.ts';
import { ARCHITECTURES, type Architecture } from './arch/index.ts';
import { modelConfig } from './config.ts';
import { buildEndGraph, buildLayerGraph, fuseRuns, type GraphValue, type LayerNode } from './layer-graph.ts';

function cfgOf(arch: Architecture, extra: [string, GgufKv][] = [], nLayer = 4) {
  const list: [string, GgufKv][] = [
    ['general.architecture', kv.str(arch)],
    [`${arch}.block_count`, kv.u32(nLayer)],
    [`${arch}.embedding_length`, kv.u32(64)],
    [`${arch}.feed_forward_length`, kv.u32(128)],
    [`${arch}.attention.head_count`, kv.u32(4)],
    [`${arch}.attention.head_count_kv`, kv.u32(2)],
    [`${arch}.vocab_size`, kv.u32(100)],
    ...extra,
  ];
  return modelConfig({ metadata: new Map(list), tensors: [] } as unknown as GgufFile);
}

const PLAIN = [
  'attn_norm',
  'q_proj',
  'k_proj',
  'v_proj',
  'rope_store',
  'attention',
  'o_proj',
  'ffn_norm',
  'gate_proj',
  'up_proj',
  'glu',
  'down_proj',
];
const QK = ['attn_norm', 'q_proj', 'k_proj', 'v_proj', 'q_norm', 'k_norm', 'rope_store', 'attention'];
const SANDWICH_TAIL = [
  'o_proj',
  'post_attention_norm',
  'ffn_norm',
  'gate_proj',
  'up_proj',
  'glu',
  'down_proj',
  'post_ffw_norm',
];
const EXPECTED: Record<Architecture, string[]> = {
  llama: PLAIN,
  qwen2: PLAIN,
  exaone: PLAIN,
  qwen3: [...QK, ...PLAIN.slice(6)],
  gemma2: [...PLAIN.slice(0, 6), ...SANDWICH_TAIL],
  gemma3: [...QK, ...SANDWICH_TAIL],
  // No pre-norms: q/k/v and gate/up read the residual stream itself.
  exaone4: [
    ...QK.slice(1),
    'o_proj',
    'post_attention_norm',
    'gate_proj',
    'up_proj',
    'glu',
    'down_proj',
    'post_ffw_norm',
  ],
};

/** Values each node reads, so the flow can be checked without knowing a kind's op. */
function reads(n: LayerNode): GraphValue[] {
  switch (n.kind) {
    case 'norm':
    case 'head_norm':
      return [n.x];
    case 'proj':
      return n.residual ? [n.x, n.residual.from] : [n.x];
    case 'rope_store':
      return ['q', 'k', 'v'];
    case 'attention':
      return ['q', 'kv_cache'];
    case 'post_norm':
      return [n.x, n.residual.from];
    case 'glu':
      return ['gate', 'up'];
  }
}
function writes(n: LayerNode): GraphValue[] {
  switch (n.kind) {
    case 'norm':
    case 'head_norm':
    case 'proj':
      return [n.out];
    case 'rope_store':
      return ['q', 'kv_cache'];
    case 'attention':
      return ['attn'];
    case 'post_norm':
      return [n.residual.to];
    case 'glu':
      return ['act'];
  }
}

describe('layer graph', () => {
  it.each(ARCHITECTURES)(
    '%s: the node order its spec yields, values written before they are read',
    (arch) => {
      const cfg = cfgOf(arch);
      const nodes = buildLayerGraph(cfg, 0);
      expect(nodes.map((n) => n.name)).toEqual(EXPECTED[arch]);
      const known = new Set<GraphValue>(['res_in']);
      for (const n of nodes) {
        for (const v of reads(n)) expect(known.has(v), `${arch} ${n.name} reads ${v}`).toBe(true);
        for (const v of writes(n)) known.add(v);
      }
      expect(known.has('res_out')).toBe(true);
      expect(nodes.filter((n) => n.kind === 'glu').map((n) => n.kind === 'glu' && n.gelu)).toEqual([
        cfg.gelu,
      ]);
    },
  );

  it('follows the tensors a layer has: biases, and q/k norms only as a pair', () => {
    const cfg = cfgOf('qwen3');
    const nodes = buildLayerGraph(cfg, 0, { attnNorm: 1, ffnNorm: 1, qNorm: 1, bq: 1, bk: 1, bv: 1 });
    expect(nodes.map((n) => n.name)).toEqual(PLAIN);
    expect(nodes.flatMap((n) => (n.kind === 'proj' && n.bias ? [n.bias] : []))).toEqual(['bq', 'bk', 'bv']);
    expect(buildLayerGraph(cfgOf('qwen2'), 0).filter((n) => n.kind === 'proj' && n.bias)).toHaveLength(3);
  });

  it('carries each layer its own attention window (gemma2 alternates sliding and global)', () => {
    const cfg = cfgOf('gemma2', [['gemma2.attention.sliding_window', kv.u32(16)]]);
    const windows = cfg.layers.map((_, i) =>
      buildLayerGraph(cfg, i).flatMap((n) => (n.kind === 'attention' ? [n.window] : [])),
    );
    expect(windows).toEqual(cfg.layers.map((l) => [l.window]));
    expect(new Set(windows.flat())).toEqual(new Set([16, 0]));
  });

  it('marks the runs inference fuses: attn_norm…rope_store and ffn_norm…glu', () => {
    const runs = fuseRuns(buildLayerGraph(cfgOf('gemma3'), 0)).map((r) => [
      r.fuse ?? '-',
      r.nodes.map((n) => n.name),
    ]);
    expect(runs).toEqual([
      ['qkv', QK.slice(0, 7)],
      ['-', ['attention']],
      ['-', ['o_proj']],
      ['-', ['post_attention_norm']],
      ['glu', ['ffn_norm', 'gate_proj', 'up_proj', 'glu']],
      ['-', ['down_proj']],
      ['-', ['post_ffw_norm']],
    ]);
  });

  it('ends: the embedding with its scale before the layers, the final norm and capped logits after', () => {
    const cfg = cfgOf('gemma2', [['gemma2.final_logit_softcapping', kv.f32(30)]]);
    const ends = buildEndGraph(cfg);
    expect(ends.before).toEqual([{ kind: 'embed', name: 'token_embd', scale: Math.sqrt(64) }]);
    expect(ends.after).toEqual([
      { kind: 'final_norm', name: 'output_norm' },
      { kind: 'logits', name: 'output', softcap: 30 },
    ]);
    expect(buildEndGraph(cfgOf('llama')).after[1]).toMatchObject({ softcap: 0 });
  });
});
