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

struct MatmulParams {
  k: u32,            // row length (elements), a multiple of 32
  rows: u32,         // rows in this weight part
  row_offset: u32,   // first output column of this part (tensors split across bindings)
  aux: u32,          // word offset of repacked scales (see quant.wgsl)
  out_stride: u32,   // elements between tokens in out
  grid_x: u32,       // workgroups along x (rows are spread over x and y)
  x_row: u32,        // 0: tokens start at row 0; 1: use only the batch's last token (logits)
  softcap: f32,      // SOFTCAP variant: v = softcap * tanh(v / softcap) (Gemma-2 final logits)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  _pad3: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: MatmulParams;
@group(0) @binding(4) var<uniform> step: Step;
#ifdef BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;
#endif

#include "matvec"

fn write_out(row: u32, t: u32, total: f32) {
  let o = t * params.out_stride + params.row_offset + row;
  var v = total;
#ifdef BIAS
  v += bias[params.row_offset + row];
#endif
#ifdef SOFTCAP
  v = params.softcap * tanh(v / params.softcap);
#endif
#ifdef ACCUMULATE
  out[o] = out[o] + v;
#else
  out[o] = v;
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
