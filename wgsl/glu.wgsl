// FFN input in one dispatch per layer: RMSNorm (folded into the products, see matvec.wgsl), the
// gate and up projections, and act(gate)·up (gated-act.wgsl) — three matmuls' worth of launches,
// a norm and an activation pass in one, and the gate/up/normed rows never touch memory.
// gate and up live in one buffer W (src/engine/gpu/gpu-weight.ts uploadWeightGroup) at word
// offsets gate_base and up_base, so one binding serves both. A workgroup takes SG_ROWS rows (≥ 16,
// ops.ts glu): its prologue computes the RMSNorm and stages x∘g once for all of them, where one or
// two rows per workgroup re-read x at 1.8–3.6 times the bytes of the Q4_K weights they multiply.

diagnostic(off, subgroup_uniformity);

#define DOT_UNIT
#define NORM
#define COALESCED
#include "quant"
#include "reduce"

struct GluParams {
  k: u32,            // n_embd, a multiple of 32
  rows: u32,         // n_ff
  gate_base: u32,    // word offsets of the two tensors in W
  up_base: u32,
  gate_aux: u32,     // word offsets of their repacked scales, relative to each base
  up_aux: u32,
  grid_x: u32,       // workgroups along x (rows are spread over x and y)
  eps: f32,          // RMSNorm epsilon
};

#include "step"

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X4: array<vec4<f32>>;   // residual stream [tokens, k]
@group(0) @binding(2) var<storage, read> G4: array<vec4<f32>>;   // RMSNorm weight [k]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // [tokens, rows]
@group(0) @binding(4) var<uniform> params: GluParams;
@group(0) @binding(5) var<uniform> step: Step;
#ifdef VEC16
// W again, read 16 bytes at a time by decode (quant.wgsl w16).
@group(0) @binding(6) var<storage, read> W4: array<vec4<u32>>;
#endif

#include "matvec"
#include "gated-act"

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  let n_tok = step.n_tokens;
  let t0 = wid.z * TILE;
  let group = wid.x + wid.y * params.grid_x;
#ifdef SUBGROUPS
  let inv = norm_prologue(0u, t0, n_tok, lid, sg_lane, sg_size);
  // A subgroup wider than the workgroup is partly filled: WG_SIZE lanes stride the row.
  let lanes = min(sg_size, WG_SIZE);
  let n_sg = max(1u, WG_SIZE / sg_size);
  for (var rr = lid / sg_size; rr < SG_ROWS; rr += n_sg) {
    let row = group * SG_ROWS + rr;
    if (row >= params.rows) { break; }
    let ag = row_partials(params.gate_base, row, params.gate_aux, sg_lane, lanes, 0u, t0, n_tok);
    let au = row_partials(params.up_base, row, params.up_aux, sg_lane, lanes, 0u, t0, n_tok);
    for (var t = 0u; t < TILE; t++) {
      let g = subgroupAdd(ag[t]) * inv[t];
      let u = subgroupAdd(au[t]) * inv[t];
      if (sg_lane == 0u && t0 + t < n_tok) { out[(t0 + t) * params.rows + row] = gated_act(g, u); }
    }
  }
#else
  let inv = norm_prologue(0u, t0, n_tok, lid);
  // The whole workgroup reduces one row at a time (uniform control flow for the barriers).
  for (var rr = 0u; rr < SG_ROWS; rr++) {
    let row = group * SG_ROWS + rr;
    let in_range = row < params.rows;
    var ag: array<f32, TILE>;
    var au: array<f32, TILE>;
    if (in_range) {
      ag = row_partials(params.gate_base, row, params.gate_aux, lid, WG_SIZE, 0u, t0, n_tok);
      au = row_partials(params.up_base, row, params.up_aux, lid, WG_SIZE, 0u, t0, n_tok);
    }
    for (var t = 0u; t < TILE; t++) {
      let g = reduce_sum(ag[t], lid) * inv[t];
      let u = reduce_sum(au[t], lid) * inv[t];
      if (lid == 0u && in_range && t0 + t < n_tok) { out[(t0 + t) * params.rows + row] = gated_act(g, u); }
    }
  }
#endif
}
