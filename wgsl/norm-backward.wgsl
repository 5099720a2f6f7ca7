// Gradient of RMSNorm y = x · r · w, r = (mean(x²) + eps)^-½, with respect to x:
//   dx = r · (dy ⊙ w) − x · r³ · Σ(dy ⊙ w ⊙ x) / n
// One workgroup per row. ADD: dx is added to what is there (the residual stream's gradient).

#include "reduce"

struct NormParams {
  n: u32,
  rows_per_token: u32,
  eps: f32,
  _pad: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> params: NormParams;
@group(0) @binding(5) var<uniform> step: Step;

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  let r = wid.x;
  let valid = r < step.n_tokens * params.rows_per_token;
  let base = r * params.n;
  var ss = 0.0;
  var gx = 0.0;
  if (valid) {
    for (var i = lid; i < params.n; i += WG_SIZE) {
      let v = x[base + i];
      ss += v * v;
      gx += dy[base + i] * w[i] * v;
    }
  }
#ifdef SUBGROUPS
  let ss_total = reduce_sum(ss, lid, sg_lane, sg_size);
  let gx_total = reduce_sum(gx, lid, sg_lane, sg_size);
#else
  let ss_total = reduce_sum(ss, lid);
  let gx_total = reduce_sum(gx, lid);
#endif
  if (!valid) { return; }
  let inv = inverseSqrt(ss_total / f32(params.n) + params.eps);
  let c = inv * inv * inv * gx_total / f32(params.n);
  for (var i = lid; i < params.n; i += WG_SIZE) {
    let g = inv * dy[base + i] * w[i] - x[base + i] * c;
#ifdef ADD
    dx[base + i] = dx[base + i] + g;
#else
    dx[base + i] = g;
#endif
  }
}
