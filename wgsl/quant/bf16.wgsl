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
