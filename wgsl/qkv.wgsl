// Attention input in one dispatch per layer (QKV + RoPE + KV-cache append fused, saving launches):
//   RMSNorm (folded into the products, see matvec.wgsl) → q, k, v projections (+ bias, Qwen2)
//   → per-head q/k RMSNorm (QK_NORM, Qwen3) → RoPE → q to q_out, k and v appended to the KV cache.
// One workgroup per (head, token tile); heads are numbered q heads, then k heads, then v heads. A
// head's rows are gathered in workgroup memory, because the epilogue needs whole heads: the q/k norm
// sums over a head and a RoPE pair spans two rows (i, i+n_rot/2 in NEOX style).
// q|k|v live in one buffer W (src/engine/gpu/gpu-weight.ts uploadWeightGroup) at word offsets
// q_base/k_base/v_base, so one binding serves all three whatever their size.
// RoPE reads the CPU-computed cos/sin table rope.wgsl reads (WGSL's sin/cos are too coarse to agree
// with llama.cpp); KV_F16 packs f16 pairs into u32 as rope.wgsl does.

diagnostic(off, subgroup_uniformity);

#define DOT_UNIT
#define NORM
#include "quant"
#include "reduce"

struct QkvParams {
  k: u32,          // n_embd, a multiple of 32
  n_head: u32,
  n_kv: u32,
  head_dim: u32,   // even; HEAD_DIM (the define) sizes workgroup memory
  n_rot: u32,      // rotated dims per head (even); the rest are copied
  q_base: u32,     // word offsets of wq, wk, wv in W
  k_base: u32,
  v_base: u32,
  q_aux: u32,      // word offsets of their repacked scales, relative to each base
  k_aux: u32,
  v_aux: u32,
  bias_off: u32,   // BIAS: offset of bq|bk|bv in vecs
  qn_off: u32,     // QK_NORM: offsets of the q and k head-norm weights in vecs
  kn_off: u32,
  eps: f32,        // epsilon of every RMSNorm here
  _pad0: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X4: array<vec4<f32>>;   // residual stream [tokens, k]
@group(0) @binding(2) var<storage, read> G4: array<vec4<f32>>;   // attention RMSNorm weight [k]
@group(0) @binding(3) var<storage, read_write> q_out: array<f32>; // [tokens, n_head * head_dim]
#ifdef KV_F16
@group(0) @binding(4) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<u32>;
#else
@group(0) @binding(4) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<f32>;
#endif
@group(0) @binding(6) var<storage, read> cos_sin: array<vec2<f32>>; // [position][pair]
@group(0) @binding(7) var<uniform> params: QkvParams;
@group(0) @binding(8) var<uniform> step: Step;
#ifdef VECS
@group(0) @binding(9) var<storage, read> vecs: array<f32>;        // small per-layer vectors
#endif

var<workgroup> head_s: array<f32, TILE * HEAD_DIM>;

#include "matvec"
#include "rope-dim"

/** Bias of row r of head h of kind 0 (q), 1 (k) or 2 (v). */
fn bias_at(kind: u32, h: u32, r: u32) -> f32 {
#ifdef BIAS
  let hd = params.head_dim;
  var o = params.bias_off + h * hd + r;
  if (kind >= 1u) { o += params.n_head * hd; }
  if (kind == 2u) { o += params.n_kv * hd; }
  return vecs[o];
#else
  return 0.0;
#endif
}

/** Dimension d of the rotated head stored at head_s[s..] (dims past n_rot are copied). */
fn rope_dim(s: u32, d: u32, pos: u32) -> f32 {
  if (d >= params.n_rot) { return head_s[s + d]; }
  let r = rope_dim_of(d, params.n_rot, pos);
  return rope_rotate(r, head_s[s + r.a], head_s[s + r.b]);
}

fn store_kv(kind: u32, idx: u32, a: f32, b: f32) {
#ifdef KV_F16
  if (kind == 1u) { k_cache[idx / 2u] = pack2x16float(vec2<f32>(a, b)); }
  else { v_cache[idx / 2u] = pack2x16float(vec2<f32>(a, b)); }
#else
  if (kind == 1u) { k_cache[idx] = a; k_cache[idx + 1u] = b; }
  else { v_cache[idx] = a; v_cache[idx + 1u] = b; }
#endif
}

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  let n_tok = step.n_tokens;
  let t0 = wid.z * TILE;
  let hd = params.head_dim;
  var kind = 0u;
  var h = wid.x;
  var aux = params.q_aux;
  var wb = params.q_base;
  if (h >= params.n_head + params.n_kv) {
    kind = 2u;
    h -= params.n_head + params.n_kv;
    aux = params.v_aux;
    wb = params.v_base;
  } else if (h >= params.n_head) {
    kind = 1u;
    h -= params.n_head;
    aux = params.k_aux;
    wb = params.k_base;
  }

  // The head's rows, normalised input and bias applied, into head_s[t * hd + r].
#ifdef SUBGROUPS
  let inv = norm_prologue(0u, t0, n_tok, lid, sg_lane, sg_size);
  // A subgroup wider than the workgroup is partly filled: WG_SIZE lanes stride the row.
  let lanes = min(sg_size, WG_SIZE);
  let n_sg = max(1u, WG_SIZE / sg_size);
  for (var r = lid / sg_size; r < hd; r += n_sg) {
    let acc = row_partials(wb, h * hd + r, aux, sg_lane, lanes, 0u, t0, n_tok);
    for (var t = 0u; t < TILE; t++) {
      let total = subgroupAdd(acc[t]);
      if (sg_lane == 0u) { head_s[t * hd + r] = total * inv[t] + bias_at(kind, h, r); }
    }
  }
#else
  // No subgroups: one row per invocation, so no reduction (and no barrier) per row.
  let inv = norm_prologue(0u, t0, n_tok, lid);
  for (var r = lid; r < hd; r += WG_SIZE) {
    let acc = row_partials(wb, h * hd + r, aux, 0u, 1u, 0u, t0, n_tok);
    for (var t = 0u; t < TILE; t++) { head_s[t * hd + r] = acc[t] * inv[t] + bias_at(kind, h, r); }
  }
#endif
  workgroupBarrier();

  let nt = min(TILE, n_tok - min(t0, n_tok));
  for (var t = 0u; t < nt; t++) {
    let s = t * hd;
#ifdef QK_NORM
    if (kind < 2u) {
      var ss = 0.0;
      for (var d = lid; d < hd; d += WG_SIZE) { ss += head_s[s + d] * head_s[s + d]; }
#ifdef SUBGROUPS
      let total = reduce_sum(ss, lid, sg_lane, sg_size);
#else
      let total = reduce_sum(ss, lid);
#endif
      let hinv = inverseSqrt(total / f32(hd) + params.eps);
      let wo = select(params.kn_off, params.qn_off, kind == 0u);
      for (var d = lid; d < hd; d += WG_SIZE) { head_s[s + d] = head_s[s + d] * hinv * vecs[wo + d]; }
      workgroupBarrier();
    }
#endif
    let tok = t0 + t;
    let pos = step.pos + tok;
    // One adjacent pair of dims per invocation, so an f16 cache word is written by one thread.
    for (var e = lid; e < hd / 2u; e += WG_SIZE) {
      let d0 = 2u * e;
      if (kind == 2u) {
        store_kv(2u, pos * params.n_kv * hd + h * hd + d0, head_s[s + d0], head_s[s + d0 + 1u]);
        continue;
      }
      let a = rope_dim(s, d0, pos);
      let b = rope_dim(s, d0 + 1u, pos);
      if (kind == 0u) {
        let o = tok * params.n_head * hd + h * hd + d0;
        q_out[o] = a;
        q_out[o + 1u] = b;
      } else {
        store_kv(1u, pos * params.n_kv * hd + h * hd + d0, a, b);
      }
    }
  }
}
