// AdamW (Loshchilov & Hutter) over one packed parameter buffer, with decoupled weight decay and an
// optional proximal pull towards the round's global weights (FedProx: g += μ · (p − p_global)).
// Bias corrections are passed in (1 − β^t), computed on the CPU in double precision.

struct AdamParams {
  n: u32,
  grid_x: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  bias_correction1: f32,
  bias_correction2: f32,
  mu: f32,
  _pad0: u32,
  _pad1: u32,
};

@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> anchor: array<f32>;
@group(0) @binding(5) var<uniform> params: AdamParams;

@compute @workgroup_size(WG_SIZE)
fn adamw(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.grid_x * WG_SIZE + gid.x;
  if (i >= params.n) { return; }
  let w = p[i];
  var grad = g[i];
  if (params.mu != 0.0) { grad += params.mu * (w - anchor[i]); }
  let m1 = params.beta1 * m[i] + (1.0 - params.beta1) * grad;
  let v1 = params.beta2 * v[i] + (1.0 - params.beta2) * grad * grad;
  m[i] = m1;
  v[i] = v1;
  let mhat = m1 / params.bias_correction1;
  let vhat = v1 / params.bias_correction2;
  p[i] = w - params.lr * (mhat / (sqrt(vhat) + params.eps) + params.weight_decay * w);
}
