// Causal grouped-query attention over the KV cache, one workgroup per (query head, token).
// Keys are visited in chunks of WG_SIZE with an online softmax (running max and sum, rescaled
// accumulator), so memory is O(head_dim) per workgroup whatever the context length, and the
// softmax is numerically stable. Gemma-2's score soft-capping and sliding window are options.

#include "reduce"

const MAX_HEAD_DIM: u32 = 256u;
const DIMS_PER_THREAD: u32 = (MAX_HEAD_DIM + WG_SIZE - 1u) / WG_SIZE;
const NEG_BIG: f32 = -3.0e38;

struct AttnParams {
  n_head: u32,
  n_kv: u32,
  head_dim: u32,
  window: u32,     // 0: full causal attention; else keys older than pos-window+1 are masked
  scale: f32,
  softcap: f32,    // 0: off; else s = softcap * tanh(s / softcap)
  _pad0: u32,
  _pad1: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> q: array<f32>;
#ifdef KV_F16
// f16 pairs packed in u32 (see rope.wgsl), unpacked to f32 for arithmetic.
@group(0) @binding(1) var<storage, read> k_cache: array<u32>;
@group(0) @binding(2) var<storage, read> v_cache: array<u32>;
fn k_at(i: u32) -> f32 { return unpack2x16float(k_cache[i >> 1u])[i & 1u]; }
fn v_at(i: u32) -> f32 { return unpack2x16float(v_cache[i >> 1u])[i & 1u]; }
#else
@group(0) @binding(1) var<storage, read> k_cache: array<f32>;
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
fn k_at(i: u32) -> f32 { return k_cache[i]; }
fn v_at(i: u32) -> f32 { return v_cache[i]; }
#endif
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: AttnParams;
@group(0) @binding(5) var<uniform> step: Step;

var<workgroup> q_s: array<f32, MAX_HEAD_DIM>;
var<workgroup> p_s: array<f32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  let h = wid.x;
  let t = wid.y;
  // Workgroups past the batch still run the barriers below, writing nothing.
  let in_batch = t < step.n_tokens;
  let hd = params.head_dim;
  let kvh = h / (params.n_head / params.n_kv);
  let kv_width = params.n_kv * hd;
  let pos = step.pos + t;
  var first = 0u;
  if (params.window > 0u && pos + 1u > params.window) { first = pos + 1u - params.window; }
  let q_base = (t * params.n_head + h) * hd;
  for (var d = lid; d < hd; d += WG_SIZE) {
    q_s[d] = select(0.0, q[q_base + d], in_batch);
  }
  workgroupBarrier();

  var acc: array<f32, DIMS_PER_THREAD>;
  var m = NEG_BIG;
  var l = 0.0;
  var last = pos;
  if (!in_batch) { last = 0u; first = 0u; }
  for (var c0 = first; c0 <= last; c0 += WG_SIZE) {
    let j = c0 + lid;
    var s = NEG_BIG;
    if (in_batch && j <= last) {
      let kb = j * kv_width + kvh * hd;
      var dotv = 0.0;
      for (var d = 0u; d < hd; d++) { dotv += q_s[d] * k_at(kb + d); }
      s = dotv * params.scale;
      if (params.softcap > 0.0) { s = params.softcap * tanh(s / params.softcap); }
    }
#ifdef SUBGROUPS
    let cmax = reduce_max(s, lid, sg_lane, sg_size);
#else
    let cmax = reduce_max(s, lid);
#endif
    let m_new = max(m, cmax);
    var p = 0.0;
    if (in_batch && j <= last) { p = exp(s - m_new); }
    p_s[lid] = p;
#ifdef SUBGROUPS
    let psum = reduce_sum(p, lid, sg_lane, sg_size);
#else
    let psum = reduce_sum(p, lid);
#endif
    let corr = exp(m - m_new);
    l = l * corr + psum;
    let n_in_chunk = min(WG_SIZE, last - c0 + 1u);
    for (var e = 0u; e < DIMS_PER_THREAD; e++) {
      let d = lid + e * WG_SIZE;
      if (d < hd) {
        var a = acc[e] * corr;
        for (var jj = 0u; jj < n_in_chunk; jj++) {
          a += p_s[jj] * v_at((c0 + jj) * kv_width + kvh * hd + d);
        }
        acc[e] = a;
      }
    }
    m = m_new;
    workgroupBarrier();
  }
  if (!in_batch) { return; }
  let o_base = (t * params.n_head + h) * hd;
  for (var e = 0u; e < DIMS_PER_THREAD; e++) {
    let d = lid + e * WG_SIZE;
    if (d < hd) { out[o_base + d] = acc[e] / l; }
  }
}
