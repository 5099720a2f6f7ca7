// Gated FFN activations: out = act(gate) * up, over n_tokens × n_ff elements (gated-act.wgsl).
// Used when gate and up are not fused (glu.wgsl), e.g. while a LoRA adapter adds to them.

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

#include "gated-act"

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i >= params.n_ff || t >= step.n_tokens) { return; }
  let o = t * params.n_ff + i;
  out[o] = gated_act(gate[o], up[o]);
}
