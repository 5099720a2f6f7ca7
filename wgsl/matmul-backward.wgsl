// Gradient through a frozen, quantized linear layer: dx[t, i] (+)= Σ_o W[o, i] · dy[t, o].
// W stays in its ggml layout and is dequantized on the fly. A workgroup owns one 32-column unit
// (see quant.wgsl) and a tile of TILE tokens. Its invocations are 8 column quads × ROW_LANES row
// lanes: each decodes its quad of each row it visits once (unit_vec4) and adds it, times dy, into
// TILE vec4 accumulators held in registers; the row lanes are then summed through workgroup memory
// once, behind one barrier. Tensors split across bindings run once per part, later parts
// accumulating.

#include "quant"

const QUADS: u32 = 8u;                       // 32 columns of a unit, 4 per invocation
const ROW_LANES: u32 = WG_SIZE / QUADS;

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

var<workgroup> part_s: array<vec4<f32>, ROW_LANES * TILE * QUADS>; // [row lane][token][quad]

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let unit = wid.x;
  let t0 = wid.y * TILE;
  let upr = params.k / 32u;
  let n_tok = min(TILE, max(step.n_tokens, t0) - t0);
  let quad = lid % QUADS;
  let lane = lid / QUADS;
  var acc: array<vec4<f32>, TILE>;
  for (var o = lane; o < params.rows; o += ROW_LANES) {
    let w = unit_vec4(0u, o, unit, upr, params.aux, quad);
    for (var tt = 0u; tt < n_tok; tt++) {
      acc[tt] += w * dy[(t0 + tt) * params.dy_stride + params.row_offset + o];
    }
  }
  for (var tt = 0u; tt < TILE; tt++) { part_s[(lane * TILE + tt) * QUADS + quad] = acc[tt]; }
  workgroupBarrier();
  // 32 × TILE outputs, one per invocation and pass: column c of token tt sums the row lanes.
  for (var i = lid; i < 32u * n_tok; i += WG_SIZE) {
    let tt = i / 32u;
    let c = i % 32u;
    var s = 0.0;
    for (var l = 0u; l < ROW_LANES; l++) { s += part_s[(l * TILE + tt) * QUADS + c / 4u][c % 4u]; }
    let o = (t0 + tt) * params.dx_stride + unit * 32u + c;
    if (params.accumulate != 0u) { dx[o] = dx[o] + s; } else { dx[o] = s; }
  }
}
