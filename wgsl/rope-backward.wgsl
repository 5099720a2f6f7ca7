// Gradient of RoPE, in place on dq [tokens, n_head, head_dim] and dk [tokens, n_kv, head_dim]:
// the transpose of a rotation by θ is the rotation by −θ. Same pair layout and cos/sin table as
// rope.wgsl (NEOX: (i, i + n_rot/2), else (2i, 2i+1)); dims past n_rot pass through unchanged.

struct RopeParams {
  n_head: u32,
  n_kv: u32,
  head_dim: u32,
  n_rot: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read_write> dq: array<f32>;
@group(0) @binding(1) var<storage, read_write> dk: array<f32>;
@group(0) @binding(2) var<storage, read> cos_sin: array<vec2<f32>>; // [position][pair]
@group(0) @binding(3) var<uniform> params: RopeParams;
@group(0) @binding(4) var<uniform> step: Step;

fn pair_index(i: u32) -> vec2<u32> {
#ifdef NEOX
  return vec2<u32>(i, i + params.n_rot / 2u);
#else
  return vec2<u32>(2u * i, 2u * i + 1u);
#endif
}

fn unrotate(base: u32, i: u32, pos: u32, is_q: bool) {
  let cs = cos_sin[pos * (params.n_rot / 2u) + i];
  let p = pair_index(i);
  if (is_q) {
    let a = dq[base + p.x];
    let b = dq[base + p.y];
    dq[base + p.x] = a * cs.x + b * cs.y;
    dq[base + p.y] = b * cs.x - a * cs.y;
  } else {
    let a = dk[base + p.x];
    let b = dk[base + p.y];
    dk[base + p.x] = a * cs.x + b * cs.y;
    dk[base + p.y] = b * cs.x - a * cs.y;
  }
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y;
  if (t >= step.n_tokens) { return; }
  let pos = step.pos + t;
  let half_rot = params.n_rot / 2u;
  let hd = params.head_dim;
  let q_pairs = params.n_head * half_rot;
  let g = gid.x;
  if (g < q_pairs) {
    unrotate((t * params.n_head + g / half_rot) * hd, g % half_rot, pos, true);
    return;
  }
  let j = g - q_pairs;
  if (j < params.n_kv * half_rot) {
    unrotate((t * params.n_kv + j / half_rot) * hd, j % half_rot, pos, false);
  }
}
