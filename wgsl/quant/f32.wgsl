// F32: one element per word, kept as in the file.
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let base = (row * upr + unit) * 32u;
  for (var i = 0u; i < 32u; i++) { (*w)[i] = bitcast<f32>(W[wb + base + i]); }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let b = wb + (row * upr + unit) * 32u + 4u * j;
  return bitcast<vec4<f32>>(vec4<u32>(W[b], W[b + 1u], W[b + 2u], W[b + 3u]));
}

#ifdef VEC16
fn unit_vec16(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, h: u32) -> mat4x4<f32> {
  let b = (row * upr + unit) * 32u + 16u * h;
  return mat4x4<f32>(
    bitcast<vec4<f32>>(w16(wb, b)),
    bitcast<vec4<f32>>(w16(wb, b + 4u)),
    bitcast<vec4<f32>>(w16(wb, b + 8u)),
    bitcast<vec4<f32>>(w16(wb, b + 12u)),
  );
}
#endif

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let base = (row * upr + unit) * 32u;
  var s = 0.0;
  for (var j = 0u; j < 8u; j++) {
    let w = bitcast<vec4<f32>>(vec4<u32>(W[wb + base + 4u * j], W[wb + base + 4u * j + 1u], W[wb + base + 4u * j + 2u], W[wb + base + 4u * j + 3u]));
    s += dot(w, x4_at(xb + j));
  }
  return s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let base = (row * upr + unit) * 32u;
  var s = vec4<f32>();
  for (var j = 0u; j < 8u; j++) {
    let w = bitcast<vec4<f32>>(vec4<u32>(W[wb + base + 4u * j], W[wb + base + 4u * j + 1u], W[wb + base + 4u * j + 2u], W[wb + base + 4u * j + 3u]));
    s += dot4(w, xb + j, ts, gb + j);
  }
  return s;
}
#endif
