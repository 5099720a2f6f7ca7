// Bandwidth yardstick for benchmarks: dst = src, one vec4 per invocation (16-byte loads and stores).
// A decode kernel's effective bandwidth is reported as a ratio to this kernel on the same adapter.

@group(0) @binding(0) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst4: array<vec4<f32>>;

@compute @workgroup_size(WG_SIZE)
fn copy4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= arrayLength(&dst4)) { return; }
  dst4[i] = src4[i];
}
