// out[t, r] (+)= sum_k W[r, k] * x[t, k]  (+ bias[r])
// One workgroup per output row and tile of TILE tokens: each weight unit is decoded once and used
// for every token of the tile, so prefill reads the weights T/TILE times instead of T times, and
// decode (T = 1) reads each weight byte once. Threads stride over the row's 32-element units and
// the partial sums are reduced across the workgroup (subgroups when available).

#include "quant"
#include "reduce"

struct MatmulParams {
  k: u32,            // row length (elements), a multiple of 32
  rows: u32,         // rows in this weight part
  row_offset: u32,   // first output column of this part (tensors split across bindings)
  aux: u32,          // word offset of repacked scales (see quant.wgsl)
  x_stride: u32,     // elements between tokens in x
  out_stride: u32,   // elements between tokens in out
  grid_x: u32,       // workgroups along x (rows are spread over x and y)
  x_row: u32,        // 0: tokens start at row 0; 1: use only the batch's last token (logits)
  softcap: f32,      // SOFTCAP variant: v = softcap * tanh(v / softcap) (Gemma-2 final logits)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
};

struct Step {
  n_tokens: u32,
  pos: u32,
  kv_len: u32,
  _pad: u32,
};

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: MatmulParams;
@group(0) @binding(4) var<uniform> step: Step;
#ifdef BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;
#endif

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  let row = wid.x + wid.y * params.grid_x;
  let in_range = row < params.rows;
  var n_tok = step.n_tokens;
  var first = 0u;
  if (params.x_row == 1u) { first = step.n_tokens - 1u; n_tok = 1u; }
  let t0 = wid.z * TILE;
  let upr = params.k / 32u;

  var acc: array<f32, TILE>;
  var w: array<f32, 32>;
  if (in_range) {
    for (var u = lid; u < upr; u += WG_SIZE) {
      decode_unit(row, u, upr, params.aux, &w);
      for (var t = 0u; t < TILE; t++) {
        if (t0 + t >= n_tok) { break; }
        let xb = (first + t0 + t) * params.x_stride + u * 32u;
        var s = 0.0;
        for (var i = 0u; i < 32u; i += 4u) {
          s += dot(vec4<f32>(w[i], w[i + 1u], w[i + 2u], w[i + 3u]),
                   vec4<f32>(x[xb + i], x[xb + i + 1u], x[xb + i + 2u], x[xb + i + 3u]));
        }
        acc[t] += s;
      }
    }
  }
  for (var t = 0u; t < TILE; t++) {
#ifdef SUBGROUPS
    let total = reduce_sum(acc[t], lid, sg_lane, sg_size);
#else
    let total = reduce_sum(acc[t], lid);
#endif
    if (lid == 0u && in_range && t0 + t < n_tok) {
      let o = (t0 + t) * params.out_stride + params.row_offset + row;
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
  }
}
