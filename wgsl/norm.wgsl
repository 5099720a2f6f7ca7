// RMSNorm over rows of length n: y = x / sqrt(mean(x²) + eps) * w.
// Rows are `rows_per_token` per token (1 for hidden states, n_head for Qwen3's per-head q/k norms).
// Variants: ADD (y is added into out: Gemma-2's post-norms feed the residual stream directly),
// LAST_TOKEN (only the batch's last token: the final norm before the logits).

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
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: NormParams;
@group(0) @binding(4) var<uniform> step: Step;

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
#ifdef LAST_TOKEN
  let valid = r < params.rows_per_token;
  let in_base = ((step.n_tokens - 1u) * params.rows_per_token + r) * params.n;
#else
  let valid = r < step.n_tokens * params.rows_per_token;
  let in_base = r * params.n;
#endif
  let out_base = r * params.n;
  var ss = 0.0;
  if (valid) {
    for (var i = lid; i < params.n; i += WG_SIZE) {
      let v = x[in_base + i];
      ss += v * v;
    }
  }
#ifdef SUBGROUPS
  let total = reduce_sum(ss, lid, sg_lane, sg_size);
#else
  let total = reduce_sum(ss, lid);
#endif
  if (!valid) { return; }
  let inv = inverseSqrt(total / f32(params.n) + params.eps);
  for (var i = lid; i < params.n; i += WG_SIZE) {
#ifdef ADD
    out[out_base + i] = out[out_base + i] + x[in_base + i] * inv * w[i];
#else
    out[out_base + i] = x[in_base + i] * inv * w[i];
#endif
  }
}
