// Causal grouped-query attention over the KV cache, in three entry points (src/engine/gpu/attention-plan.ts
// sizes them; Ops.attention picks by batch size):
//   SPLIT   decode (a few tokens): flash-decoding. The context's keys are split into runs of 64-key
//           chunks across workgroups; one workgroup scores one run for up to GROUP query heads of one
//           KV group, so each K/V row is read once per group, not once per query head. It writes
//           its partial (max, sum, unnormalised accumulator) per head.
//   COMBINE merges a head's partials: out = Σ e^(m_s−M)·acc_s / Σ e^(m_s−M)·l_s.
//   TILED   prefill: a tile of T query tokens × tiles of T keys staged in workgroup memory, online
//           softmax per query row (flash-attention), so K/V are read once per query tile and head
//           instead of once per query token.
// All paths: online softmax (running max, rescaled accumulator), Gemma-2's score soft-cap and
// sliding window, f16 or f32 cache. Masked keys get weight exactly 0.

const NEG_BIG: f32 = -3.0e38;

struct AttnParams {
  n_head: u32,
  n_kv: u32,
  head_dim: u32,
  window: u32,     // 0: full causal attention; else keys older than pos-window+1 are masked
  scale: f32,
  softcap: f32,    // 0: off; else s = softcap * tanh(s / softcap)
  n_split: u32,    // SPLIT/COMBINE: split workgroups per (KV group, head block) in the grid
  _pad0: u32,
};

#include "step"

@group(0) @binding(4) var<uniform> params: AttnParams;
@group(0) @binding(5) var<uniform> step: Step;

#ifdef COMBINE
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(0) var<storage, read> q: array<f32>;
#ifdef KV_F16
// f16 pairs packed in u32 (see rope.wgsl), unpacked to f32 for arithmetic.
@group(0) @binding(1) var<storage, read> k_cache: array<u32>;
@group(0) @binding(2) var<storage, read> v_cache: array<u32>;
fn k_at(i: u32) -> f32 { return unpack2x16float(k_cache[i >> 1u])[i & 1u]; }
fn v_at(i: u32) -> f32 { return unpack2x16float(v_cache[i >> 1u])[i & 1u]; }
// Two keys' elements in one 4-byte load (i even).
fn k_pair(i: u32) -> vec2<f32> { return unpack2x16float(k_cache[i >> 1u]); }
#else
@group(0) @binding(1) var<storage, read> k_cache: array<f32>;
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
fn k_at(i: u32) -> f32 { return k_cache[i]; }
fn v_at(i: u32) -> f32 { return v_cache[i]; }
fn k_pair(i: u32) -> vec2<f32> { return vec2<f32>(k_cache[i], k_cache[i + 1u]); }
#endif
#ifdef SPLIT
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#endif
#endif

/** Oldest key position query position `pos` sees. */
fn first_key(pos: u32) -> u32 {
  if (params.window > 0u && pos + 1u > params.window) { return pos + 1u - params.window; }
  return 0u;
}

fn capped(dotv: f32) -> f32 {
  var s = dotv * params.scale;
  if (params.softcap > 0.0) { s = params.softcap * tanh(s / params.softcap); }
  return s;
}

/** Chunks of 64 keys in a query's context, and how they are shared out over the splits. */
struct Runs { n_chunks: u32, per_split: u32, used: u32 };
fn runs(pos: u32) -> Runs {
  let n_chunks = (pos + 1u - first_key(pos) + WG_SIZE - 1u) / WG_SIZE;
  let n_active = min(params.n_split, n_chunks);
  let per_split = (n_chunks + n_active - 1u) / n_active;
  return Runs(n_chunks, per_split, (n_chunks + per_split - 1u) / per_split);
}

#ifdef SPLIT
const DPT: u32 = (HEAD_DIM + WG_SIZE - 1u) / WG_SIZE;
const LANES: u32 = WG_SIZE / 8u; // threads per head in the chunk-max step (GROUP ≤ 8)

var<workgroup> q_s: array<f32, GROUP * HEAD_DIM>;
var<workgroup> p_s: array<f32, GROUP * WG_SIZE>;
var<workgroup> red_s: array<f32, WG_SIZE>;
var<workgroup> m_s: array<f32, GROUP>;

// Grid: [n_split, n_kv * blocks, tokens]. Workgroup (s, g, t): split s of KV group g's head block.
@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wid.z;
  if (t >= step.n_tokens) { return; }
  let hd = params.head_dim;
  let ratio = params.n_head / params.n_kv;
  let blocks = (ratio + GROUP - 1u) / GROUP;
  let kvh = wid.y / blocks;
  let block = wid.y % blocks;
  let h0 = kvh * ratio + block * GROUP;
  let nh = min(GROUP, ratio - block * GROUP);
  let pos = step.pos + t;
  let first = first_key(pos);
  let r = runs(pos);
  let c_begin = wid.x * r.per_split;
  if (c_begin >= r.n_chunks) { return; } // this split has no keys at this context length
  let c_end = min(c_begin + r.per_split, r.n_chunks);

  for (var i = lid; i < GROUP * HEAD_DIM; i += WG_SIZE) {
    let g = i / HEAD_DIM;
    let d = i % HEAD_DIM;
    q_s[i] = select(0.0, q[(t * params.n_head + h0 + g) * hd + d], g < nh && d < hd);
  }
  workgroupBarrier();

  let kv_width = params.n_kv * hd;
  var acc: array<f32, GROUP * DPT>;
  var m: array<f32, GROUP>;
  var l: array<f32, GROUP>;
  for (var g = 0u; g < GROUP; g++) { m[g] = NEG_BIG; }
  for (var c = c_begin; c < c_end; c++) {
    let c0 = first + c * WG_SIZE;
    // Score: thread lid takes key c0+lid for every head of the block (one K row read).
    let j = c0 + lid;
    let valid = j <= pos;
    var sc: array<f32, GROUP>;
    if (valid) {
      // Element pairs: with an even head dim every row starts even, so a pair is one f16 word.
      let kb = j * kv_width + kvh * hd;
      let even = select(0u, hd, hd % 2u == 0u);
      for (var d = 0u; d < even; d += 2u) {
        let kd = k_pair(kb + d);
        for (var g = 0u; g < GROUP; g++) {
          sc[g] += q_s[g * HEAD_DIM + d] * kd.x + q_s[g * HEAD_DIM + d + 1u] * kd.y;
        }
      }
      for (var d = even; d < hd; d++) { // odd head dims: element by element
        let kd = k_at(kb + d);
        for (var g = 0u; g < GROUP; g++) { sc[g] += q_s[g * HEAD_DIM + d] * kd; }
      }
    }
    for (var g = 0u; g < GROUP; g++) { p_s[g * WG_SIZE + lid] = select(NEG_BIG, capped(sc[g]), valid); }
    workgroupBarrier();
    // Chunk max per head: 8 lanes scan 8 scores each, then one lane per head.
    let mh = lid / LANES;
    if (mh < GROUP) {
      var mx = NEG_BIG;
      let lane = lid % LANES;
      for (var e = 0u; e < WG_SIZE / LANES; e++) { mx = max(mx, p_s[mh * WG_SIZE + lane * (WG_SIZE / LANES) + e]); }
      red_s[lid] = mx;
    }
    workgroupBarrier();
    if (lid < GROUP) {
      var mx = NEG_BIG;
      for (var e = 0u; e < LANES; e++) { mx = max(mx, red_s[lid * LANES + e]); }
      m_s[lid] = mx;
    }
    workgroupBarrier();
    var corr: array<f32, GROUP>;
    for (var g = 0u; g < GROUP; g++) {
      let m_new = max(m[g], m_s[g]);
      corr[g] = exp(m[g] - m_new);
      m[g] = m_new;
      // Each thread rescales only the score it wrote, so no barrier is needed before this write.
      p_s[g * WG_SIZE + lid] = select(0.0, exp(p_s[g * WG_SIZE + lid] - m_new), valid);
    }
    workgroupBarrier();
    // Accumulate: thread lid owns dims lid, lid+64, …; each V element is read once for all heads.
    let n_in = min(WG_SIZE, pos + 1u - c0);
    for (var g = 0u; g < GROUP; g++) {
      l[g] *= corr[g];
      for (var e = 0u; e < DPT; e++) { acc[g * DPT + e] *= corr[g]; }
    }
    for (var jj = 0u; jj < n_in; jj++) {
      let vb = (c0 + jj) * kv_width + kvh * hd;
      for (var g = 0u; g < GROUP; g++) { l[g] += p_s[g * WG_SIZE + jj]; }
      for (var e = 0u; e < DPT; e++) {
        let d = lid + e * WG_SIZE;
        if (d < HEAD_DIM) { // HEAD_DIM == head_dim; a constant folds away after unrolling
          let v = v_at(vb + d);
          for (var g = 0u; g < GROUP; g++) { acc[g * DPT + e] += p_s[g * WG_SIZE + jj] * v; }
        }
      }
    }
    workgroupBarrier(); // p_s is rewritten by the next chunk
  }
  let stride = hd + 2u;
  for (var g = 0u; g < nh; g++) {
    let base = ((t * params.n_head + h0 + g) * params.n_split + wid.x) * stride;
    if (lid == 0u) {
      partials[base] = m[g];
      partials[base + 1u] = l[g];
    }
    for (var e = 0u; e < DPT; e++) {
      let d = lid + e * WG_SIZE;
      if (d < HEAD_DIM) { partials[base + 2u + d] = acc[g * DPT + e]; }
    }
  }
}
#endif

#ifdef COMBINE
// Grid: [n_head, tokens, 1].
@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = wid.x;
  let t = wid.y;
  if (t >= step.n_tokens) { return; }
  let hd = params.head_dim;
  let stride = hd + 2u;
  let used = runs(step.pos + t).used;
  let base = (t * params.n_head + h) * params.n_split * stride;
  var mx = NEG_BIG;
  for (var s = 0u; s < used; s++) { mx = max(mx, partials[base + s * stride]); }
  var den = 0.0;
  for (var s = 0u; s < used; s++) {
    den += exp(partials[base + s * stride] - mx) * partials[base + s * stride + 1u];
  }
  for (var d = lid; d < hd; d += WG_SIZE) {
    var num = 0.0;
    for (var s = 0u; s < used; s++) {
      num += exp(partials[base + s * stride] - mx) * partials[base + s * stride + 2u + d];
    }
    out[(t * params.n_head + h) * hd + d] = num / den;
  }
}
#endif

#ifdef TILED
// Thread (row, lane): query row lid / LPR of the tile, dims lane, lane+LPR, …; each thread keeps
// only its own row's running max and sum (scalars), which keeps the kernel small to compile.
const LPR: u32 = WG_SIZE / T;
const DPR: u32 = (HEAD_DIM + LPR - 1u) / LPR;

var<workgroup> q_t: array<f32, T * HEAD_DIM>;
var<workgroup> k_t: array<f32, T * HEAD_DIM>;
var<workgroup> v_t: array<f32, T * HEAD_DIM>;
var<workgroup> s_t: array<f32, T * T>;

// Grid: [n_head, ceil(tokens / T), 1]. Workgroup (h, b): query tokens bT..bT+T-1 of head h.
@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = wid.x;
  let t0 = wid.y * T;
  if (t0 >= step.n_tokens) { return; }
  let hd = params.head_dim;
  let nq = min(T, step.n_tokens - t0);
  let pos0 = step.pos + t0;
  let k_last = pos0 + nq - 1u;
  let kvh = h / (params.n_head / params.n_kv);
  let kv_width = params.n_kv * hd;
  // Staging loops run to runtime bounds: nothing to unroll (a smaller shader to compile).
  for (var i = lid; i < T * hd; i += WG_SIZE) {
    let qi = i / hd;
    let d = i % hd;
    q_t[qi * HEAD_DIM + d] = select(0.0, q[((t0 + qi) * params.n_head + h) * hd + d], qi < nq);
  }
  let row = lid / LPR;
  let lane = lid % LPR;
  let qpos = pos0 + row;
  let row_first = first_key(qpos);

  var acc: array<f32, DPR>;
  var m = NEG_BIG;
  var l = 0.0;
  for (var kb = first_key(pos0); kb <= k_last; kb += T) {
    workgroupBarrier(); // the previous tile's readers are done
    for (var i = lid; i < T * hd; i += WG_SIZE) {
      let kj = i / hd;
      let d = i % hd;
      let ok = kb + kj <= k_last;
      let src = select(0u, (kb + kj) * kv_width + kvh * hd + d, ok);
      k_t[kj * HEAD_DIM + d] = select(0.0, k_at(src), ok);
      v_t[kj * HEAD_DIM + d] = select(0.0, v_at(src), ok);
    }
    workgroupBarrier();
    // Masked scores stay NEG_BIG; a real score is never that low.
    for (var kj = lane; kj < T; kj += LPR) {
      let kpos = kb + kj;
      var sc = NEG_BIG;
      if (row < nq && kpos <= qpos && kpos >= row_first) {
        var dotv = 0.0;
        for (var d = 0u; d < hd; d++) { dotv += q_t[row * HEAD_DIM + d] * k_t[kj * HEAD_DIM + d]; }
        sc = capped(dotv);
      }
      s_t[row * T + kj] = sc;
    }
    workgroupBarrier();
    // Keys of this tile that exist; a runtime bound also keeps compilers from unrolling T × DPR.
    let n_keys = min(T, k_last + 1u - kb);
    var mx = m;
    for (var kj = 0u; kj < n_keys; kj++) { mx = max(mx, s_t[row * T + kj]); }
    let corr = exp(m - mx);
    m = mx;
    l *= corr;
    for (var e = 0u; e < DPR; e++) { acc[e] *= corr; }
    for (var kj = 0u; kj < n_keys; kj++) {
      let sc = s_t[row * T + kj];
      let p = select(0.0, exp(sc - mx), sc > NEG_BIG);
      l += p;
      for (var e = 0u; e < DPR; e++) {
        let d = lane + e * LPR;
        if (d < HEAD_DIM) { acc[e] += p * v_t[kj * HEAD_DIM + d]; }
      }
    }
  }
  if (row >= nq) { return; }
  for (var e = 0u; e < DPR; e++) {
    let d = lane + e * LPR;
    if (d < HEAD_DIM) { out[((t0 + row) * params.n_head + h) * hd + d] = acc[e] / l; }
  }
}
#endif
