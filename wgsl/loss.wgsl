// Cross-entropy over the vocabulary for every position of a training sequence, and its gradient
// in place: with weight w_t (1/N over the step's N trained tokens, or 0 for prompt positions),
//   loss_t = w_t · (logsumexp(z_t) − z_t[y_t]),  dz_t = w_t · (softmax(z_t) − onehot(y_t)).
// With a final soft-cap c (Gemma 2) the logits are z = c·tanh(z_raw/c) and dz_raw = dz · (1 − (z/c)²).
// `sum` then adds the sequence's token losses into a running total (one readback per step).

#include "reduce"

struct LossParams {
  n_vocab: u32,
  softcap: f32,
  _pad1: u32,
  _pad2: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> tok_loss: array<f32>;
@group(0) @binding(4) var<uniform> params: LossParams;
@group(0) @binding(5) var<uniform> step: Step;
@group(0) @binding(6) var<storage, read_write> total: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn cross_entropy(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  let t = wid.x;
  if (t >= step.n_tokens) { return; }
  let w = weights[t];
  let base = t * params.n_vocab;
  if (w == 0.0) {
    for (var i = lid; i < params.n_vocab; i += WG_SIZE) { logits[base + i] = 0.0; }
    if (lid == 0u) { tok_loss[t] = 0.0; }
    return;
  }
  var m = -3.0e38;
  for (var i = lid; i < params.n_vocab; i += WG_SIZE) { m = max(m, logits[base + i]); }
#ifdef SUBGROUPS
  let m_all = reduce_max(m, lid, sg_lane, sg_size);
#else
  let m_all = reduce_max(m, lid);
#endif
  var s = 0.0;
  for (var i = lid; i < params.n_vocab; i += WG_SIZE) { s += exp(logits[base + i] - m_all); }
#ifdef SUBGROUPS
  let s_all = reduce_sum(s, lid, sg_lane, sg_size);
#else
  let s_all = reduce_sum(s, lid);
#endif
  let lse = m_all + log(s_all);
  let y = targets[t];
  let zy = logits[base + y];
  workgroupBarrier();
  for (var i = lid; i < params.n_vocab; i += WG_SIZE) {
    let z = logits[base + i];
    var g = w * (exp(z - lse) - select(0.0, 1.0, i == y));
    if (params.softcap > 0.0) {
      let r = z / params.softcap;
      g *= 1.0 - r * r;
    }
    logits[base + i] = g;
  }
  if (lid == 0u) { tok_loss[t] = w * (lse - zy); }
}

@compute @workgroup_size(WG_SIZE)
fn sum(
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  var s = 0.0;
  for (var t = lid; t < step.n_tokens; t += WG_SIZE) { s += tok_loss[t]; }
#ifdef SUBGROUPS
  let s_all = reduce_sum(s, lid, sg_lane, sg_size);
#else
  let s_all = reduce_sum(s, lid);
#endif
  if (lid == 0u) { total[0] = total[0] + s_all; }
}
