// out[t, r] (+)= sum_k W[r, k] * x[t, k]  (+ bias[r])
//
// Row partial sums come from matvec.wgsl (vec4 dot products fused with dequantisation; a token
// tile per weight decode in prefill). Lanes stride over a row's units and their partial sums are
// reduced:
//  - SUBGROUPS: one subgroup per row, SG_ROWS rows per workgroup, reduced with subgroupAdd — no
//    workgroup barrier at all (as llama.cpp's mul_mat_vec shaders do);
//  - otherwise: one row per workgroup, reduced through workgroup memory.

diagnostic(off, subgroup_uniformity);

#define DOT_UNIT
#include "quant"
#ifndef SUBGROUPS
#include "reduce"
#endif

#include "matmul-io"

#include "matvec"

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  var n_tok = step.n_tokens;
  var first = 0u;
  if (params.x_row == 1u) { first = step.n_tokens - 1u; n_tok = 1u; }
  let t0 = wid.z * TILE;
  let group = wid.x + wid.y * params.grid_x;
#ifdef SUBGROUPS
  // A subgroup can be wider than the workgroup (128-wide against WG_SIZE 64): then one partly
  // filled subgroup holds all WG_SIZE lanes; without max() the row loop would never advance.
  let lanes = min(sg_size, WG_SIZE);
  let n_sg = max(1u, WG_SIZE / sg_size);
  for (var rr = lid / sg_size; rr < SG_ROWS; rr += n_sg) {
    let row = group * SG_ROWS + rr;
    if (row >= params.rows) { break; }
    let acc = row_partials(0u, row, params.aux, sg_lane, lanes, first, t0, n_tok);
    for (var t = 0u; t < TILE; t++) {
      let total = subgroupAdd(acc[t]);
      if (sg_lane == 0u && t0 + t < n_tok) { write_out(row, t0 + t, total); }
    }
  }
#else
  let row = group;
  let in_range = row < params.rows;
  var acc: array<f32, TILE>;
  if (in_range) { acc = row_partials(0u, row, params.aux, lid, WG_SIZE, first, t0, n_tok); }
  for (var t = 0u; t < TILE; t++) {
    let total = reduce_sum(acc[t], lid);
    if (lid == 0u && in_range && t0 + t < n_tok) { write_out(row, t0 + t, total); }
  }
#endif
}
