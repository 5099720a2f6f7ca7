// block_q5_0 (32 elements, 22 bytes): d (f16), qh (u32: bit i is the fifth bit of element i), qs[16]
// (element i in the low nibble of qs[i], element i+16 in the high nibble); value = (q - 16) * d.
// Repacked: qh and qs of every block (5 words: qh, then qs), then d at `aux`.

// The 4 fifth bits of elements 4j..4j+3 (qh >> 4j), moved to bit 4 of four bytes.
fn q5_high4(qh: u32, j: u32) -> u32 {
  let h = (qh >> (4u * j)) & 0xfu;
  return ((h & 1u) << 4u) | ((h & 2u) << 11u) | ((h & 4u) << 18u) | ((h & 8u) << 25u);
}

// Quants (0..31) of elements 4j..4j+3 of the block whose qh word is at `qw` (qs follow it).
fn q5_0_quads(wb: u32, qw: u32, j: u32) -> vec4<f32> {
  let lo = (W[wb + qw + 1u + (j & 3u)] >> (4u * (j >> 2u))) & 0x0f0f0f0fu;
  return vec4<f32>(unpack4xU8(lo | q5_high4(W[wb + qw], j)));
}

fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let blk = row * upr + unit;
  let d = f16_at(wb, aux, blk);
  for (var j = 0u; j < 8u; j++) {
    let v = d * (q5_0_quads(wb, blk * 5u, j) - 16.0);
    (*w)[4u * j] = v.x;
    (*w)[4u * j + 1u] = v.y;
    (*w)[4u * j + 2u] = v.z;
    (*w)[4u * j + 3u] = v.w;
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let blk = row * upr + unit;
  return f16_at(wb, aux, blk) * (q5_0_quads(wb, blk * 5u, j) - 16.0);
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let blk = row * upr + unit;
  var s = 0.0;
  for (var j = 0u; j < 8u; j++) {
    s += dot(q5_0_quads(wb, blk * 5u, j) - 16.0, x4_at(xb + j));
  }
  return f16_at(wb, aux, blk) * s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let blk = row * upr + unit;
  var s = vec4<f32>();
  for (var j = 0u; j < 8u; j++) {
    s += dot4(q5_0_quads(wb, blk * 5u, j) - 16.0, xb + j, ts, gb + j);
  }
  return f16_at(wb, aux, blk) * s;
}
#endif
