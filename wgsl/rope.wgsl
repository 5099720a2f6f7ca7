// Rotary position embedding on q (in place) and k, then k and v appended to this layer's KV cache
// at positions pos .. pos+n_tokens-1 — one dispatch instead of three.
// NORM style (llama, exaone) rotates pairs (2i, 2i+1); NEOX style (qwen, gemma) rotates (i, i+n_rot/2).
// cos/sin come from a table computed on the CPU (src/engine/model/rope-table.ts) the way llama.cpp
// computes theta: WGSL only promises 2^-11 absolute error for sin/cos, too coarse to agree with it.
// KV_F16: the cache holds f16 pairs packed in u32 (pack2x16float: core WGSL, no shader-f16 needed),
// halving KV memory and attention's reads; each invocation then writes one adjacent pair of dims.

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
#ifdef KV_F16
@group(0) @binding(3) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<u32>;
#else
@group(0) @binding(3) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<f32>;
#endif
@group(0) @binding(5) var<storage, read> cos_sin: array<vec2<f32>>; // [position][pair]
@group(0) @binding(6) var<uniform> params: RopeParams;
@group(0) @binding(7) var<uniform> step: Step;

#include "rope-dim"

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
#ifdef KV_F16
  // k: one adjacent pair of dims (2e, 2e+1) of one head per invocation, each dim rotated on its own
  // (gathering its partner), so NEOX pairs (i, i+n_rot/2) never split a packed word between threads.
  let k_words = params.n_kv * hd / 2u;
  if (g < q_pairs + k_words) {
    let w = g - q_pairs;
    let h = (2u * w) / hd;
    let d0 = (2u * w) % hd;
    let src = t * kv_width + h * hd;
    k_cache[(pos * kv_width + h * hd + d0) / 2u] = pack2x16float(vec2<f32>(rope_dim(src, d0, pos), rope_dim(src, d0 + 1u, pos)));
    return;
  }
  let c2 = g - q_pairs - k_words;
  if (c2 < kv_width / 2u) {
    v_cache[(pos * kv_width) / 2u + c2] = pack2x16float(vec2<f32>(v[t * kv_width + 2u * c2], v[t * kv_width + 2u * c2 + 1u]));
  }
}

/** Dimension d of the rotated k head starting at k[src] (dims past n_rot are copied). */
fn rope_dim(src: u32, d: u32, pos: u32) -> f32 {
  if (d >= params.n_rot) { return k[src + d]; }
  let r = rope_dim_of(d, params.n_rot, pos);
  return rope_rotate(r, k[src + r.a], k[src + r.b]);
}
#else
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
#endif
