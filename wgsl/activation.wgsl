// Gated FFN activations: out = act(gate) * up, over n_tokens × n_ff elements.
// SiLU for llama/qwen/exaone (SwiGLU); tanh-approximated GELU for Gemma (GeGLU), as llama.cpp's ggml_gelu.

struct ActParams {
  n_ff: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: ActParams;
@group(0) @binding(4) var<uniform> step: Step;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_COEF_A: f32 = 0.044715;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i >= params.n_ff || t >= step.n_tokens) { return; }
  let o = t * params.n_ff + i;
  let g = gate[o];
#ifdef GELU
  let a = 0.5 * g * (1.0 + tanh(SQRT_2_OVER_PI * g * (1.0 + GELU_COEF_A * g * g)));
#else
  let a = g / (1.0 + exp(-g));
#endif
  out[o] = a * up[o];
}
