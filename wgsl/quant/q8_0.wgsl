// block_q8_0: d (f16), qs[32] (i8). Repacked: qs of all blocks (8 words each), then d at `aux`.
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let blk = row * upr + unit;
  let d = f16_at(wb, aux, blk);
  for (var i = 0u; i < 8u; i++) {
    let q = bitcast<vec4<i32>>(unpack4xI8(W[wb + blk * 8u + i]));
    (*w)[4u * i] = d * f32(q.x);
    (*w)[4u * i + 1u] = d * f32(q.y);
    (*w)[4u * i + 2u] = d * f32(q.z);
    (*w)[4u * i + 3u] = d * f32(q.w);
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let blk = row * upr + unit;
  return f16_at(wb, aux, blk) * vec4<f32>(unpack4xI8(W[wb + blk * 8u + j]));
}

#ifdef VEC16
fn unit_vec16(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, h: u32) -> mat4x4<f32> {
  let blk = row * upr + unit;
  let q = w16(wb, blk * 8u + 4u * h);
  let d = f16_at(wb, aux, blk);
  return mat4x4<f32>(
    d * vec4<f32>(unpack4xI8(q.x)),
    d * vec4<f32>(unpack4xI8(q.y)),
    d * vec4<f32>(unpack4xI8(q.z)),
    d * vec4<f32>(unpack4xI8(q.w)),
  );
}
#endif

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let blk = row * upr + unit;
  var s = 0.0;
  for (var j = 0u; j < 8u; j++) {
    s += dot(vec4<f32>(unpack4xI8(W[wb + blk * 8u + j])), x4_at(xb + j));
  }
  return f16_at(wb, aux, blk) * s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let blk = row * upr + unit;
  var s = vec4<f32>();
  for (var j = 0u; j < 8u; j++) {
    s += dot4(vec4<f32>(unpack4xI8(W[wb + blk * 8u + j])), xb + j, ts, gb + j);
  }
  return f16_at(wb, aux, blk) * s;
}
#endif
