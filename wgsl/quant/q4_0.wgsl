// block_q4_0: d (f16), qs[16]: element i in low nibble of qs[i], element i+16 in the high nibble;
// value = (q - 8) * d. Repacked: qs (4 words per block), then d at `aux`.
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let blk = row * upr + unit;
  let d = f16_at(wb, aux, blk);
  for (var i = 0u; i < 4u; i++) {
    let word = W[wb + blk * 4u + i];
    for (var b = 0u; b < 4u; b++) {
      let byte = (word >> (8u * b)) & 0xffu;
      (*w)[4u * i + b] = d * (f32(byte & 0xfu) - 8.0);
      (*w)[4u * i + b + 16u] = d * (f32(byte >> 4u) - 8.0);
    }
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  // Elements 4j..4j+3: low nibbles of word j for j < 4, high nibbles of word j-4 after.
  let blk = row * upr + unit;
  let word = W[wb + blk * 4u + (j & 3u)] >> (4u * (j >> 2u));
  return f16_at(wb, aux, blk) * (vec4<f32>(unpack4xU8(word & 0x0f0f0f0fu)) - 8.0);
}

#ifdef VEC16
fn unit_vec16(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, h: u32) -> mat4x4<f32> {
  // Half h is nibble h of all 16 quant bytes.
  let blk = row * upr + unit;
  let q = (w16(wb, blk * 4u) >> vec4<u32>(4u * h)) & vec4<u32>(0x0f0f0f0fu);
  let d = f16_at(wb, aux, blk);
  return affine16(q, d, 8.0 * d);
}
#endif

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let blk = row * upr + unit;
  var s = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let word = W[wb + blk * 4u + j];
    let lo = vec4<f32>(unpack4xU8(word & 0x0f0f0f0fu)) - 8.0;
    let hi = vec4<f32>(unpack4xU8((word >> 4u) & 0x0f0f0f0fu)) - 8.0;
    s += dot(lo, x4_at(xb + j)) + dot(hi, x4_at(xb + 4u + j));
  }
  return f16_at(wb, aux, blk) * s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let blk = row * upr + unit;
  var s = vec4<f32>();
  for (var j = 0u; j < 4u; j++) {
    let word = W[wb + blk * 4u + j];
    let lo = vec4<f32>(unpack4xU8(word & 0x0f0f0f0fu)) - 8.0;
    let hi = vec4<f32>(unpack4xU8((word >> 4u) & 0x0f0f0f0fu)) - 8.0;
    s += dot4(lo, xb + j, ts, gb + j) + dot4(hi, xb + 4u + j, ts, gb + 4u + j);
  }
  return f16_at(wb, aux, blk) * s;
}
#endif
