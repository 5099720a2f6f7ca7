// block_q5_1 (32 elements, 24 bytes, word aligned, kept as is): d, m (f16, word 0), qh (word 1: bit
// i is the fifth bit of element i), qs[16] (words 2..5: element i in the low nibble of qs[i],
// element i+16 in the high nibble); value = d*q + m.

// The 4 fifth bits of elements 4j..4j+3 (qh >> 4j), moved to bit 4 of four bytes.
fn q5_high4(qh: u32, j: u32) -> u32 {
  let h = (qh >> (4u * j)) & 0xfu;
  return ((h & 1u) << 4u) | ((h & 2u) << 11u) | ((h & 4u) << 18u) | ((h & 8u) << 25u);
}

// Quants (0..31) of elements 4j..4j+3 of the block at word `base`.
fn q5_1_quads(wb: u32, base: u32, j: u32) -> vec4<f32> {
  let lo = (W[wb + base + 2u + (j & 3u)] >> (4u * (j >> 2u))) & 0x0f0f0f0fu;
  return vec4<f32>(unpack4xU8(lo | q5_high4(W[wb + base + 1u], j)));
}

fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let base = (row * upr + unit) * 6u;
  let dm = unpack2x16float(W[wb + base]);
  for (var j = 0u; j < 8u; j++) {
    let v = dm.x * q5_1_quads(wb, base, j) + dm.y;
    (*w)[4u * j] = v.x;
    (*w)[4u * j + 1u] = v.y;
    (*w)[4u * j + 2u] = v.z;
    (*w)[4u * j + 3u] = v.w;
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let base = (row * upr + unit) * 6u;
  let dm = unpack2x16float(W[wb + base]);
  return dm.x * q5_1_quads(wb, base, j) + dm.y;
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let base = (row * upr + unit) * 6u;
  var sq = 0.0;
  var sx = 0.0;
  for (var j = 0u; j < 8u; j++) {
    let xv = x4_at(xb + j);
    sq += dot(q5_1_quads(wb, base, j), xv);
    sx += dot(xv, vec4<f32>(1.0));
  }
  // value = d·q + m, so the offset term factors out of the sum.
  let dm = unpack2x16float(W[wb + base]);
  return dm.x * sq + dm.y * sx;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let base = (row * upr + unit) * 6u;
  var sq = vec4<f32>();
  var sx = vec4<f32>();
  for (var j = 0u; j < 8u; j++) {
    sq += dot4(q5_1_quads(wb, base, j), xb + j, ts, gb + j);
    sx += dot4(vec4<f32>(1.0), xb + j, ts, gb + j);
  }
  let dm = unpack2x16float(W[wb + base]);
  return dm.x * sq + dm.y * sx;
}
#endif
