// The low-rank term of LoRA adapters, added after a base matmul:
//   out[t, r] += sum_j B[r, j] * (sum_i A[j, i] * x[t, i])
// Several adapters are stacked along the rank (A rows and B columns concatenated, each adapter's
// scale · alpha / rank folded into its B columns on the CPU), so one shrink and one expand serve
// any number of adapters. Everything is f32: adapters are small next to the base weights.
//
// SHRINK (entry `shrink`): one workgroup per (rank row j, token t); lanes stride over the input
//   and reduce, so any input length works (no vec4 or multiple-of-32 assumption).
// EXPAND (entry `expand`): one invocation per (output row r, token t) walks the stacked rank.

diagnostic(off, subgroup_uniformity);

#ifdef SHRINK
#include "reduce"
#endif

struct LoraParams {
  in_features: u32,   // length of a token's input row in x (= x stride)
  rank: u32,          // stacked rank R (rows of A, columns of B)
  out_features: u32,  // length of a token's output row in out (= out stride)
  _pad0: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> M: array<f32>;     // A [R, in] (shrink) or B [out, R] (expand)
#ifdef SHRINK
@group(0) @binding(1) var<storage, read> x: array<f32>;     // [tokens, in]
@group(0) @binding(2) var<storage, read_write> t: array<f32>;  // [tokens, R]
#else
@group(0) @binding(1) var<storage, read> t: array<f32>;     // [tokens, R]
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // [tokens, out], accumulated into
#endif
@group(0) @binding(3) var<uniform> params: LoraParams;
@group(0) @binding(4) var<uniform> step: Step;

#ifdef SHRINK
@compute @workgroup_size(WG_SIZE)
fn shrink(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  let j = wid.x;
  let tok = wid.y;
  // Grid y is the step's token count, so `tok` is always in range; the guard keeps control uniform.
  let n = params.in_features;
  var s = 0.0;
  if (j < params.rank && tok < step.n_tokens) {
    let a0 = j * n;
    let x0 = tok * n;
    for (var i = lid; i < n; i += WG_SIZE) {
      s += M[a0 + i] * x[x0 + i];
    }
  }
#ifdef SUBGROUPS
  let total = reduce_sum(s, lid, sg_lane, sg_size);
#else
  let total = reduce_sum(s, lid);
#endif
  if (lid == 0u && j < params.rank && tok < step.n_tokens) {
    t[tok * params.rank + j] = total;
  }
}
#else
@compute @workgroup_size(WG_SIZE)
fn expand(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  let tok = gid.y;
  if (r >= params.out_features || tok >= step.n_tokens) { return; }
  let R = params.rank;
  let b0 = r * R;
  let t0 = tok * R;
  var s = 0.0;
  for (var j = 0u; j < R; j++) {
    s += M[b0 + j] * t[t0 + j];
  }
  let o = tok * params.out_features + r;
  out[o] = out[o] + s;
}
#endif
