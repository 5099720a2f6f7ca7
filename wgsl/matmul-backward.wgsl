// Gradient through a frozen, quantized linear layer: dx[t, i] (+)= Σ_o W[o, i] · dy[t, o].
// W stays in its ggml layout and is dequantized on the fly, 32 columns (one unit, see quant.wgsl)
// at a time: a workgroup owns one unit of columns and a tile of TILE tokens; its lanes stride over
// the rows, decode each row's unit once for the whole tile, and their partial sums are reduced
// through workgroup memory. Tensors split across bindings run once per part, later parts
// accumulating.

#include "quant"

struct MatmulBackParams {
  k: u32,           // columns of W (= input features), a multiple of 32
  rows: u32,        // rows of W in this part
  row_offset: u32,  // first row of this part (index into dy)
  aux: u32,         // word offset of repacked scales (quant.wgsl)
  dy_stride: u32,   // elements between tokens in dy (all rows of W)
  dx_stride: u32,   // elements between tokens in dx
  accumulate: u32,  // 1: dx += …; 0: dx = …
  _pad: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: MatmulBackParams;
@group(0) @binding(4) var<uniform> step: Step;

var<workgroup> part_s: array<f32, 2048>; // [lane][column] for one token, WG_SIZE ≤ 64

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let unit = wid.x;
  let t0 = wid.y * TILE;
  let upr = params.k / 32u;
  let n_tok = min(TILE, max(step.n_tokens, t0) - t0);
  var acc: array<f32, 32 * TILE>;
  var w: array<f32, 32>;
  if (n_tok > 0u) {
    for (var o = lid; o < params.rows; o += WG_SIZE) {
      decode_unit(0u, o, unit, upr, params.aux, &w);
      for (var tt = 0u; tt < n_tok; tt++) {
        let g = dy[(t0 + tt) * params.dy_stride + params.row_offset + o];
        if (g == 0.0) { continue; }
        for (var c = 0u; c < 32u; c++) { acc[tt * 32u + c] += w[c] * g; }
      }
    }
  }
  for (var tt = 0u; tt < TILE; tt++) {
    for (var c = 0u; c < 32u; c++) { part_s[lid * 32u + c] = acc[tt * 32u + c]; }
    workgroupBarrier();
    if (lid < 32u && tt < n_tok) {
      var s = 0.0;
      for (var l = 0u; l < WG_SIZE; l++) { s += part_s[l * 32u + lid]; }
      let o = (t0 + tt) * params.dx_stride + unit * 32u + lid;
      if (params.accumulate != 0u) { dx[o] = dx[o] + s; } else { dx[o] = s; }
    }
    workgroupBarrier();
  }
}
