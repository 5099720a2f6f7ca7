// Greedy sampling on the GPU: index of the largest logit (lowest index on ties, as llama.cpp's
// greedy sampler), written where the next step's embedding lookup and the 4-byte readback find it.
// One workgroup; each invocation scans a strided slice, then a workgroup reduction.

struct ArgmaxParams {
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
};

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> result: array<u32>;
@group(0) @binding(2) var<uniform> params: ArgmaxParams;

var<workgroup> best_v: array<f32, WG_SIZE>;
var<workgroup> best_i: array<u32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE)
fn argmax(@builtin(local_invocation_index) lid: u32) {
  var bv = -3.4e38;
  var bi = 0xffffffffu;
  for (var i = lid; i < params.n; i += WG_SIZE) {
    let v = logits[i];
    if (v > bv) { bv = v; bi = i; }
  }
  best_v[lid] = bv;
  best_i[lid] = bi;
  workgroupBarrier();
  for (var s = WG_SIZE / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let ov = best_v[lid + s];
      let oi = best_i[lid + s];
      if (ov > best_v[lid] || (ov == best_v[lid] && oi < best_i[lid])) {
        best_v[lid] = ov;
        best_i[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { result[0] = best_i[0]; }
}
