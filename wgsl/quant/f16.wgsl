// F16: two halves per word, kept as in the file.
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let base = (row * upr + unit) * 16u;
  for (var i = 0u; i < 16u; i++) {
    let v = unpack2x16float(W[wb + base + i]);
    (*w)[2u * i] = v.x;
    (*w)[2u * i + 1u] = v.y;
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let b = wb + (row * upr + unit) * 16u + 2u * j;
  return vec4<f32>(unpack2x16float(W[b]), unpack2x16float(W[b + 1u]));
}

#ifdef VEC16
fn unit_vec16(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, h: u32) -> mat4x4<f32> {
  let b = (row * upr + unit) * 16u + 8u * h;
  let p = w16(wb, b);
  let q = w16(wb, b + 4u);
  return mat4x4<f32>(
    vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y)),
    vec4<f32>(unpack2x16float(p.z), unpack2x16float(p.w)),
    vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y)),
    vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w)),
  );
}
#endif

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let base = (row * upr + unit) * 16u;
  var s = 0.0;
  for (var j = 0u; j < 8u; j++) {
    let w = vec4<f32>(unpack2x16float(W[wb + base + 2u * j]), unpack2x16float(W[wb + base + 2u * j + 1u]));
    s += dot(w, x4_at(xb + j));
  }
  return s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let base = (row * upr + unit) * 16u;
  var s = vec4<f32>();
  for (var j = 0u; j < 8u; j++) {
    let w = vec4<f32>(unpack2x16float(W[wb + base + 2u * j]), unpack2x16float(W[wb + base + 2u * j + 1u]));
    s += dot4(w, xb + j, ts, gb + j);
  }
  return s;
}
#endif
