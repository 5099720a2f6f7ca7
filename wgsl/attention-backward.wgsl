// Gradient of causal grouped-query attention (training: the batch is the whole sequence, its
// roped keys and values are in the layer's cache). With s_j = scale · q·k_j and P = softmax(s):
//   dP_j = dO · v_j,  dS_j = P_j (dP_j − Σ_i P_i dP_i),
//   dq = scale Σ_j dS_j k_j,  dk_j = scale Σ_{t,h in group} dS_tj q_t,  dv_j = Σ_{t,h} P_tj dO_t.
// `scores` (one workgroup per query head and token) recomputes P, writes P and scale·dS to
// [n_head, seq, seq] buffers and produces dq; `kv` (one workgroup per kv head and key position)
// sums them into dk and dv, so no two workgroups write the same element (WGSL has no float atomics).
// With a soft-cap c (Gemma 2), s_j = c·tanh(scale·q·k_j / c) and dS is multiplied by 1 − (s_j/c)².
// A sliding window (window > 0) restricts token t to keys j with t − window < j ≤ t, as the forward.

#include "reduce"

const MAX_HEAD_DIM: u32 = 256u;
const DIMS_PER_THREAD: u32 = (MAX_HEAD_DIM + WG_SIZE - 1u) / WG_SIZE;
const NEG_BIG: f32 = -3.0e38;

struct AttnBackParams {
  n_head: u32,
  n_kv: u32,
  head_dim: u32,
  seq: u32,        // row stride of the P and dS buffers (the trainer's maximum sequence length)
  scale: f32,
  window: u32,     // 0: full causal attention; else keys older than t-window+1 are masked
  softcap: f32,    // 0: none
  _pad2: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k_cache: array<f32>;
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
@group(0) @binding(3) var<storage, read> d_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> dq: array<f32>;
@group(0) @binding(5) var<storage, read_write> p_buf: array<f32>;
@group(0) @binding(6) var<storage, read_write> ds_buf: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
@group(0) @binding(9) var<uniform> params: AttnBackParams;
@group(0) @binding(10) var<uniform> step: Step;

var<workgroup> q_s: array<f32, MAX_HEAD_DIM>;

fn capped(s: f32) -> f32 {
  if (params.softcap > 0.0) { return params.softcap * tanh(s / params.softcap); }
  return s;
}
var<workgroup> do_s: array<f32, MAX_HEAD_DIM>;

@compute @workgroup_size(WG_SIZE)
fn scores(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  let h = wid.x;
  let t = wid.y;
  let in_batch = t < step.n_tokens;
  let hd = params.head_dim;
  let kvh = h / (params.n_head / params.n_kv);
  let kv_width = params.n_kv * hd;
  let base = (t * params.n_head + h) * hd;
  for (var d = lid; d < hd; d += WG_SIZE) {
    q_s[d] = select(0.0, q[base + d], in_batch);
    do_s[d] = select(0.0, d_out[base + d], in_batch);
  }
  workgroupBarrier();
  var last = step.pos + t;
  if (!in_batch) { last = 0u; }
  var first = 0u;
  if (params.window > 0u && last + 1u > params.window) { first = last + 1u - params.window; }
  let row = (h * params.seq + t) * params.seq;

  // Pass 1: softmax statistics (running max and sum per lane, then combined).
  var m = NEG_BIG;
  var l = 0.0;
  for (var j = first + lid; j <= last; j += WG_SIZE) {
    if (!in_batch) { break; }
    let kb = j * kv_width + kvh * hd;
    var s = 0.0;
    for (var d = 0u; d < hd; d++) { s += q_s[d] * k_cache[kb + d]; }
    s = capped(s * params.scale);
    let m_new = max(m, s);
    l = l * exp(m - m_new) + exp(s - m_new);
    m = m_new;
  }
#ifdef SUBGROUPS
  let m_all = reduce_max(m, lid, sg_lane, sg_size);
  let l_all = reduce_sum(l * exp(m - m_all), lid, sg_lane, sg_size);
#else
  let m_all = reduce_max(m, lid);
  let l_all = reduce_sum(l * exp(m - m_all), lid);
#endif

  // Pass 2: P_j and dP_j (kept in the buffers), and Σ P dP.
  var pdp = 0.0;
  for (var j = first + lid; j <= last; j += WG_SIZE) {
    if (!in_batch) { break; }
    let kb = j * kv_width + kvh * hd;
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < hd; d++) {
      s += q_s[d] * k_cache[kb + d];
      dp += do_s[d] * v_cache[kb + d];
    }
    let p = exp(capped(s * params.scale) - m_all) / l_all;
    p_buf[row + j] = p;
    ds_buf[row + j] = dp;
    pdp += p * dp;
  }
#ifdef SUBGROUPS
  let pdp_all = reduce_sum(pdp, lid, sg_lane, sg_size);
#else
  let pdp_all = reduce_sum(pdp, lid);
#endif
  // Pass 3: scale · dS, each lane on its own j as in pass 2.
  for (var j = first + lid; j <= last; j += WG_SIZE) {
    if (!in_batch) { break; }
    var g = params.scale * p_buf[row + j] * (ds_buf[row + j] - pdp_all);
    if (params.softcap > 0.0) {
      let kb = j * kv_width + kvh * hd;
      var s = 0.0;
      for (var d = 0u; d < hd; d++) { s += q_s[d] * k_cache[kb + d]; }
      let r = capped(s * params.scale) / params.softcap;
      g *= 1.0 - r * r;
    }
    ds_buf[row + j] = g;
  }
  storageBarrier();
  workgroupBarrier();
  if (!in_batch) { return; }
  // Pass 4: dq = Σ_j (scale · dS_j) k_j, lanes over dimensions.
  for (var e = 0u; e < DIMS_PER_THREAD; e++) {
    let d = lid + e * WG_SIZE;
    if (d < hd) {
      var a = 0.0;
      for (var j = first; j <= last; j++) { a += ds_buf[row + j] * k_cache[j * kv_width + kvh * hd + d]; }
      dq[base + d] = a;
    }
  }
}

@compute @workgroup_size(WG_SIZE)
fn kv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let kvh = wid.x;
  let j = wid.y;
  if (j >= step.n_tokens) { return; }
  let hd = params.head_dim;
  let group = params.n_head / params.n_kv;
  let out_base = (j * params.n_kv + kvh) * hd;
  for (var e = 0u; e < DIMS_PER_THREAD; e++) {
    let d = lid + e * WG_SIZE;
    if (d >= hd) { continue; }
    var gk = 0.0;
    var gv = 0.0;
    for (var g = 0u; g < group; g++) {
      let h = kvh * group + g;
      var t_end = step.n_tokens;
      if (params.window > 0u) { t_end = min(t_end, j + params.window); }
      for (var t = j; t < t_end; t++) {
        let pi = (h * params.seq + t) * params.seq + j;
        let qi = (t * params.n_head + h) * hd + d;
        gk += ds_buf[pi] * q[qi];
        gv += p_buf[pi] * d_out[qi];
      }
    }
    dk[out_base + d] = gk;
    dv[out_base + d] = gv;
  }
}
