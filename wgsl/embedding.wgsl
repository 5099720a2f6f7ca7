// out[t, :] = scale * dequant(W[ids[t], :]) — token embedding lookup for every weight type.
// One invocation per 32-element unit of a row; rows are token ids read from `ids`.
// Vocabulary tables larger than one binding are split by rows, one dispatch per part.

#include "quant"

struct EmbedParams {
  k: u32,          // embedding length, a multiple of 32
  rows: u32,       // rows in this weight part (ids are validated on the CPU)
  aux: u32,
  scale: f32,      // Gemma multiplies embeddings by sqrt(n_embd)
  row_offset: u32, // first vocabulary id of this part (tables split across bindings)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: EmbedParams;
@group(0) @binding(4) var<uniform> step: Step;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let upr = params.k / 32u;
  let u = gid.x;
  let t = gid.y;
  if (u >= upr || t >= step.n_tokens) { return; }
  let id = ids[t];
  // Ids of other parts are written by those parts' dispatches.
  if (id < params.row_offset || id - params.row_offset >= params.rows) { return; }
  let row = id - params.row_offset;
  let o = t * params.k + u * 32u;
  var w: array<f32, 32>;
  decode_unit(0u, row, u, upr, params.aux, &w);
  for (var i = 0u; i < 32u; i++) { out[o + i] = w[i] * params.scale; }
}
