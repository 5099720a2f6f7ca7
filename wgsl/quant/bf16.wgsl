// BF16: two bfloat16 per word (the high half of an f32), kept as in the file.
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let base = (row * upr + unit) * 16u;
  for (var i = 0u; i < 16u; i++) {
    let p = W[wb + base + i];
    (*w)[2u * i] = bitcast<f32>(p << 16u);
    (*w)[2u * i + 1u] = bitcast<f32>(p & 0xffff0000u);
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let b = wb + (row * upr + unit) * 16u + 2u * j;
  let p = W[b];
  let q = W[b + 1u];
  return bitcast<vec4<f32>>(vec4<u32>(p << 16u, p & 0xffff0000u, q << 16u, q & 0xffff0000u));
}

#ifdef VEC16
fn bf16_pair2(a: u32, b: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>(a << 16u, a & 0xffff0000u, b << 16u, b & 0xffff0000u));
}

fn unit_vec16(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, h: u32) -> mat4x4<f32> {
  let b = (row * upr + unit) * 16u + 8u * h;
  let p = w16(wb, b);
  let q = w16(wb, b + 4u);
  return mat4x4<f32>(bf16_pair2(p.x, p.y), bf16_pair2(p.z, p.w), bf16_pair2(q.x, q.y), bf16_pair2(q.z, q.w));
}
#endif

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let base = (row * upr + unit) * 16u;
  var s = 0.0;
  for (var j = 0u; j < 8u; j++) {
    let p = W[wb + base + 2u * j];
    let q = W[wb + base + 2u * j + 1u];
    let w = bitcast<vec4<f32>>(vec4<u32>(p << 16u, p & 0xffff0000u, q << 16u, q & 0xffff0000u));
    s += dot(w, x4_at(xb + j));
  }
  return s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let base = (row * upr + unit) * 16u;
  var s = vec4<f32>();
  for (var j = 0u; j < 8u; j++) {
    let p = W[wb + base + 2u * j];
    let q = W[wb + base + 2u * j + 1u];
    let w = bitcast<vec4<f32>>(vec4<u32>(p << 16u, p & 0xffff0000u, q << 16u, q & 0xffff0000u));
    s += dot4(w, xb + j, ts, gb + j);
  }
  return s;
}
#endif
