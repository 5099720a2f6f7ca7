// Gradient of SwiGLU, act = silu(gate) · up with silu(g) = g · σ(g):
//   d_up = d_act · silu(g),  d_gate = d_act · up · σ(g) · (1 + g · (1 − σ(g))).
// With GELU (Gemma's GeGLU, tanh approximation gelu(g) = ½g(1 + tanh u), u = √(2/π)(g + 0.044715g³)):
//   d_up = d_act · gelu(g),  d_gate = d_act · up · (½(1 + tanh u) + ½g(1 − tanh²u)·√(2/π)(1 + 3·0.044715g²)).

struct ActParams {
  n_ff: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read> d_act: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_gate: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_up: array<f32>;
@group(0) @binding(5) var<uniform> params: ActParams;
@group(0) @binding(6) var<uniform> step: Step;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i >= params.n_ff || t >= step.n_tokens) { return; }
  let o = t * params.n_ff + i;
  let g = gate[o];
  let da = d_act[o];
#ifdef GELU
  let c = 0.7978845608028654;
  let th = tanh(c * g * (1.0 + 0.044715 * g * g));
  d_up[o] = da * 0.5 * g * (1.0 + th);
  d_gate[o] = da * up[o] * (0.5 * (1.0 + th) + 0.5 * g * (1.0 - th * th) * c * (1.0 + 3.0 * 0.044715 * g * g));
#else
  let s = 1.0 / (1.0 + exp(-g));
  d_up[o] = da * g * s;
  d_gate[o] = da * up[o] * s * (1.0 + g * (1.0 - s));
#endif
}
