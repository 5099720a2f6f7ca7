// Rotary position embedding on q (in place) and k, then k and v appended to this layer's KV cache
// at positions pos .. pos+n_tokens-1 — one dispatch instead of three.
// NORM style (llama, exaone) rotates pairs (2i, 2i+1); NEOX style (qwen, gemma) rotates (i, i+n_rot/2).
// cos/sin come from a table computed on the CPU (src/engine/model/rope-table.ts) the way llama.cpp
// computes theta: WGSL only promises 2^-11 absolute error for sin/cos, too coarse to agree with it.

struct RopeParams {
  n_head: u32,
  n_kv: u32,
  head_dim: u32,
  n_rot: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(5) var<storage, read> cos_sin: array<vec2<f32>>; // [position][pair]
@group(0) @binding(6) var<uniform> params: RopeParams;
@group(0) @binding(7) var<uniform> step: Step;

fn rot_pair(i: u32, pos: u32) -> vec2<f32> {
  return cos_sin[pos * (params.n_rot / 2u) + i];
}

fn pair_index(i: u32) -> vec2<u32> {
#ifdef NEOX
  return vec2<u32>(i, i + params.n_rot / 2u);
#else
  return vec2<u32>(2u * i, 2u * i + 1u);
#endif
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y;
  if (t >= step.n_tokens) { return; }
  let pos = step.pos + t;
  let half_rot = params.n_rot / 2u;
  let hd = params.head_dim;
  let q_pairs = params.n_head * half_rot;
  let k_pairs = params.n_kv * half_rot;
  let kv_width = params.n_kv * hd;
  let g = gid.x;
  if (g < q_pairs) {
    let h = g / half_rot;
    let i = g % half_rot;
    let cs = rot_pair(i, pos);
    let p = pair_index(i);
    let base = t * params.n_head * hd + h * hd;
    let a = q[base + p.x];
    let b = q[base + p.y];
    q[base + p.x] = a * cs.x - b * cs.y;
    q[base + p.y] = a * cs.y + b * cs.x;
    return;
  }
  if (g < q_pairs + k_pairs) {
    let j = g - q_pairs;
    let h = j / half_rot;
    let i = j % half_rot;
    let cs = rot_pair(i, pos);
    let p = pair_index(i);
    let src = t * kv_width + h * hd;
    let dst = pos * kv_width + h * hd;
    let a = k[src + p.x];
    let b = k[src + p.y];
    k_cache[dst + p.x] = a * cs.x - b * cs.y;
    k_cache[dst + p.y] = a * cs.y + b * cs.x;
    return;
  }
  // Remaining invocations copy v, and the un-rotated tail of k when n_rot < head_dim.
  let c = g - q_pairs - k_pairs;
  if (c < kv_width) {
    v_cache[pos * kv_width + c] = v[t * kv_width + c];
    if (c % hd >= params.n_rot) {
      k_cache[pos * kv_width + c] = k[t * kv_width + c];
    }
  }
}
