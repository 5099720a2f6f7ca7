// Greedy sampling on the GPU: index of the largest logit (lowest index on ties, as llama.cpp's
// greedy sampler), written where the next step's embedding lookup and the 4-byte readback find it.
// One workgroup; each invocation scans a strided slice, then a workgroup reduction.

struct ArgmaxParams {
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
};

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> result: array<u32>;
@group(0) @binding(2) var<uniform> params: ArgmaxParams;

var<workgroup> best_v: array<f32, WG_SIZE>;
var<workgroup> best_i: array<u32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE)
fn argmax(@builtin(local_invocation_index) lid: u32) {
  var bv = -3.4e38;
  var bi = 0xffffffffu;
  for (var i = lid; i < params.n; i += WG_SIZE) {
    let v = logits[i];
    if (v > bv) { bv = v; bi = i; }
  }
  best_v[lid] = bv;
  best_i[lid] = bi;
  workgroupBarrier();
  for (var s = WG_SIZE / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let ov = best_v[lid + s];
      let oi = best_i[lid + s];
      if (ov > best_v[lid] || (ov == best_v[lid] && oi < best_i[lid])) {
        best_v[lid] = ov;
        best_i[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { result[0] = best_i[0]; }
}

// ---- Non-greedy sampling support: repetition penalty and top-k on the GPU --------------------
// The CPU sampler then needs only the k best (id, logit) pairs instead of the whole vocabulary.

struct TopKParams {
  n: u32,          // vocabulary size
  k: u32,          // candidates wanted (≤ MAX_K)
  n_penalty: u32,  // ids in `penalty_ids`
  penalty: f32,    // llama.cpp's repetition penalty: z > 0 ? z / p : z · p
};

@group(0) @binding(3) var<storage, read_write> z: array<f32>;
@group(0) @binding(4) var<storage, read> penalty_ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> cand: array<u32>; // [count, (id, bits(z)) × k]
@group(0) @binding(6) var<uniform> tk: TopKParams;

#include "reduce"

/** Order-preserving map of f32 to u32 (larger float → larger key). */
fn key_of(v: f32) -> u32 {
  let u = bitcast<u32>(v);
  return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
}

/**
 * The penalty applies once per distinct id. The CPU dedups the ids it knows; in the GPU token loop
 * the last entry is the fed token, copied on the GPU, so an id seen earlier in the list is skipped.
 */
@compute @workgroup_size(WG_SIZE)
fn penalize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= tk.n_penalty) { return; }
  let id = penalty_ids[i];
  if (id >= tk.n) { return; }
  for (var j = 0u; j < i; j++) {
    if (penalty_ids[j] == id) { return; }
  }
  let v = z[id];
  z[id] = select(v * tk.penalty, v / tk.penalty, v > 0.0);
}

var<workgroup> scan_gt: array<u32, WG_SIZE>;
var<workgroup> scan_eq: array<u32, WG_SIZE>;

/**
 * Exact top-k in one workgroup: the k-th largest key is found bit by bit from the top (radix
 * select: 32 counting passes), then every key above it and, for ties, the lowest ids equal to it
 * are written out. Each invocation owns a contiguous slice, so the output set is deterministic.
 */
@compute @workgroup_size(WG_SIZE)
fn topk(@builtin(local_invocation_index) lid: u32) {
  let per = (tk.n + WG_SIZE - 1u) / WG_SIZE;
  let lo = min(lid * per, tk.n);
  let hi = min(lo + per, tk.n);
  var prefix = 0u;
  for (var bit = 31i; bit >= 0i; bit--) {
    let c = prefix | (1u << u32(bit));
    var count = 0u;
    for (var i = lo; i < hi; i++) { count += select(0u, 1u, key_of(z[i]) >= c); }
    // Counts stay below 2^24, exact in f32.
    let total = u32(reduce_sum(f32(count), lid));
    if (total >= tk.k) { prefix = c; }
  }
  var gt = 0u;
  var eq = 0u;
  for (var i = lo; i < hi; i++) {
    let key = key_of(z[i]);
    gt += select(0u, 1u, key > prefix);
    eq += select(0u, 1u, key == prefix);
  }
  scan_gt[lid] = gt;
  scan_eq[lid] = eq;
  workgroupBarrier();
  var off_gt = 0u;
  var off_eq = 0u;
  var all_gt = 0u;
  for (var j = 0u; j < WG_SIZE; j++) {
    if (j < lid) {
      off_gt += scan_gt[j];
      off_eq += scan_eq[j];
    }
    all_gt += scan_gt[j];
  }
  var og = off_gt;
  var oe = all_gt + off_eq;
  for (var i = lo; i < hi; i++) {
    let key = key_of(z[i]);
    if (key > prefix) {
      cand[1u + 2u * og] = i;
      cand[2u + 2u * og] = bitcast<u32>(z[i]);
      og++;
    } else if (key == prefix && oe < tk.k) {
      cand[1u + 2u * oe] = i;
      cand[2u + 2u * oe] = bitcast<u32>(z[i]);
      oe++;
    }
  }
  if (lid == 0u) { cand[0] = min(tk.k, tk.n); }
}

// ---- The draw on the GPU (token loop: the id feeds the next step without a CPU round trip) ----
// Same chain and order as the CPU sampler's sampleCandidates (src/engine/sampler.ts): candidates
// sorted by logit (lowest id first on ties) → temperature → top-p → min-p → draw with the step's
// uniform random number, which the CPU's seeded generator supplies. f32 here where the CPU uses
// f64: a draw can differ only when the random number falls within ~1e-7 of a boundary.

struct DrawParams {
  greedy: u32,      // 1: take the best candidate (greedy with a repetition penalty)
  temperature: f32,
  top_p: f32,
  min_p: f32,
  rand: f32,        // uniform in [0, 1), one per step
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
};

@group(0) @binding(7) var<uniform> dp: DrawParams;

var<workgroup> sorted_id: array<u32, WG_SIZE>;
var<workgroup> sorted_p: array<f32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE)
fn draw(@builtin(local_invocation_index) lid: u32) {
  let k = min(cand[0], WG_SIZE);
  if (lid < k) {
    // Rank by comparison with every other candidate: a parallel sort of at most WG_SIZE pairs.
    let id = cand[1u + 2u * lid];
    let z = bitcast<f32>(cand[2u + 2u * lid]);
    var rank = 0u;
    for (var j = 0u; j < k; j++) {
      let oid = cand[1u + 2u * j];
      let oz = bitcast<f32>(cand[2u + 2u * j]);
      if (oz > z || (oz == z && oid < id)) { rank++; }
    }
    sorted_id[rank] = id;
    sorted_p[rank] = z;
  }
  workgroupBarrier();
  if (lid != 0u) { return; }
  if (dp.greedy != 0u || k <= 1u) {
    result[0] = sorted_id[0];
    return;
  }
  let zmax = sorted_p[0];
  var sum = 0.0;
  for (var i = 0u; i < k; i++) {
    let p = exp((sorted_p[i] - zmax) / dp.temperature);
    sorted_p[i] = p;
    sum += p;
  }
  var cut = k;
  if (dp.top_p < 1.0) {
    var acc = 0.0;
    for (var i = 0u; i < k; i++) {
      acc += sorted_p[i] / sum;
      if (acc >= dp.top_p) {
        cut = i + 1u;
        break;
      }
    }
  }
  // Probabilities descend, so min-p keeps a prefix.
  if (dp.min_p > 0.0) {
    let floor_p = sorted_p[0] * dp.min_p;
    var keep = 0u;
    for (var i = 0u; i < cut; i++) {
      if (sorted_p[i] >= floor_p) { keep = i + 1u; }
    }
    cut = keep;
  }
  sum = 0.0;
  for (var i = 0u; i < cut; i++) { sum += sorted_p[i]; }
  var r = dp.rand * sum;
  var chosen = sorted_id[cut - 1u];
  for (var i = 0u; i < cut; i++) {
    r -= sorted_p[i];
    if (r <= 0.0) {
      chosen = sorted_id[i];
      break;
    }
  }
  result[0] = chosen;
}
