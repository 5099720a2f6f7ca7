// block_q4_1 (32 elements, 20 bytes, word aligned, kept as is): d, m (f16, word 0), qs[16] (words
// 1..4): element i in the low nibble of qs[i], element i+16 in the high nibble; value = d*q + m.
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let base = (row * upr + unit) * 5u;
  let dm = unpack2x16float(W[wb + base]);
  for (var i = 0u; i < 4u; i++) {
    let word = W[wb + base + 1u + i];
    for (var b = 0u; b < 4u; b++) {
      let byte = (word >> (8u * b)) & 0xffu;
      (*w)[4u * i + b] = dm.x * f32(byte & 0xfu) + dm.y;
      (*w)[4u * i + b + 16u] = dm.x * f32(byte >> 4u) + dm.y;
    }
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  // Elements 4j..4j+3: low nibbles of qs word j for j < 4, high nibbles of word j-4 after.
  let base = (row * upr + unit) * 5u;
  let dm = unpack2x16float(W[wb + base]);
  let word = W[wb + base + 1u + (j & 3u)] >> (4u * (j >> 2u));
  return dm.x * vec4<f32>(unpack4xU8(word & 0x0f0f0f0fu)) + dm.y;
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let base = (row * upr + unit) * 5u;
  var sq = 0.0;
  var sx = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let word = W[wb + base + 1u + j];
    let lo = x4_at(xb + j);
    let hi = x4_at(xb + 4u + j);
    sq += dot(vec4<f32>(unpack4xU8(word & 0x0f0f0f0fu)), lo) + dot(vec4<f32>(unpack4xU8((word >> 4u) & 0x0f0f0f0fu)), hi);
    sx += dot(lo + hi, vec4<f32>(1.0));
  }
  // value = d·q + m, so the offset term factors out of the sum.
  let dm = unpack2x16float(W[wb + base]);
  return dm.x * sq + dm.y * sx;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let base = (row * upr + unit) * 5u;
  var sq = vec4<f32>();
  var sx = vec4<f32>();
  for (var j = 0u; j < 4u; j++) {
    let word = W[wb + base + 1u + j];
    sq += dot4(vec4<f32>(unpack4xU8(word & 0x0f0f0f0fu)), xb + j, ts, gb + j);
    sq += dot4(vec4<f32>(unpack4xU8((word >> 4u) & 0x0f0f0f0fu)), xb + 4u + j, ts, gb + 4u + j);
    sx += dot4(vec4<f32>(1.0), xb + j, ts, gb + j) + dot4(vec4<f32>(1.0), xb + 4u + j, ts, gb + 4u + j);
  }
  let dm = unpack2x16float(W[wb + base]);
  return dm.x * sq + dm.y * sx;
}
#endif
