// Elementwise kernels over f32 vectors. Shapes come from the uniform, never from constants,
// so one pipeline serves every length (the tail workgroup checks bounds).

struct ElementwiseParams {
  n: u32,
  scale: f32,
};

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: ElementwiseParams;

@compute @workgroup_size(WG_SIZE)
fn add(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.n) { return; }
  out[i] = a[i] + params.scale * b[i];
}

