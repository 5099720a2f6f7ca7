// block_q2_K (256 elements, 84 bytes): scales[16] (low nibble: 4-bit scale, high nibble: 4-bit min
// of each 16-element sub-block), qs[64] (2-bit quants), d and dmin (f16). Repacked: the first 80
// bytes of each block (20 words: scales in words 0..3, qs in 4..19), then d|dmin, one word per
// block, at `aux`. Unit u (32 elements) of a block is the 2-bit field 2·(u & 3) of qs bytes
// 32·(u >> 2) .. +31; its halves are sub-blocks 2u and 2u+1. value = d·sc·q − dmin·m.
struct Q2kUnit {
  qbase: u32,   // first word of the unit's quants
  shift: u32,   // bit offset of its 2-bit field in each byte
  d0: f32,      // d · scale, elements 0..15
  m0: f32,      // dmin · min, elements 0..15
  d1: f32,      // the same for elements 16..31
  m1: f32,
};

fn q2k_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32) -> Q2kUnit {
  let blk = row * (upr >> 3u) + (unit >> 3u);
  let u = unit & 7u;
  let base = blk * 20u;
  let dm = unpack2x16float(W[wb + aux + blk]);
  let s0 = byte_at(wb, base, 2u * u);
  let s1 = byte_at(wb, base, 2u * u + 1u);
  return Q2kUnit(
    base + 4u + (u >> 2u) * 8u,
    2u * (u & 3u),
    dm.x * f32(s0 & 0xfu),
    dm.y * f32(s0 >> 4u),
    dm.x * f32(s1 & 0xfu),
    dm.y * f32(s1 >> 4u),
  );
}

// Quants (0..3) of elements 4i..4i+3 of the unit.
fn q2k_quads(wb: u32, k: Q2kUnit, i: u32) -> vec4<f32> {
  return vec4<f32>(unpack4xU8((W[wb + k.qbase + i] >> k.shift) & 0x03030303u));
}

fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let k = q2k_unit(wb, row, unit, upr, aux);
  for (var i = 0u; i < 8u; i++) {
    let v = select(k.d1, k.d0, i < 4u) * q2k_quads(wb, k, i) - select(k.m1, k.m0, i < 4u);
    (*w)[4u * i] = v.x;
    (*w)[4u * i + 1u] = v.y;
    (*w)[4u * i + 2u] = v.z;
    (*w)[4u * i + 3u] = v.w;
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let k = q2k_unit(wb, row, unit, upr, aux);
  return select(k.d1, k.d0, j < 4u) * q2k_quads(wb, k, j) - select(k.m1, k.m0, j < 4u);
}

#ifdef VEC16
fn unit_vec16(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, h: u32) -> mat4x4<f32> {
  // Half h is sub-block 2·unit + h, with its own scale and min.
  let k = q2k_unit(wb, row, unit, upr, aux);
  let q = (w16(wb, k.qbase + 4u * h) >> vec4<u32>(k.shift)) & vec4<u32>(0x03030303u);
  return affine16(q, select(k.d0, k.d1, h == 1u), select(k.m0, k.m1, h == 1u));
}
#endif

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let k = q2k_unit(wb, row, unit, upr, aux);
  // value = d·sc·q − dmin·m per half, so each half's min term factors out of its sum.
  var sq0 = 0.0;
  var sx0 = 0.0;
  var sq1 = 0.0;
  var sx1 = 0.0;
  for (var i = 0u; i < 4u; i++) {
    let x0 = x4_at(xb + i);
    let x1 = x4_at(xb + 4u + i);
    sq0 += dot(q2k_quads(wb, k, i), x0);
    sq1 += dot(q2k_quads(wb, k, 4u + i), x1);
    sx0 += x0.x + x0.y + x0.z + x0.w;
    sx1 += x1.x + x1.y + x1.z + x1.w;
  }
  return k.d0 * sq0 - k.m0 * sx0 + k.d1 * sq1 - k.m1 * sx1;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let k = q2k_unit(wb, row, unit, upr, aux);
  var sq0 = vec4<f32>();
  var sx0 = vec4<f32>();
  var sq1 = vec4<f32>();
  var sx1 = vec4<f32>();
  for (var i = 0u; i < 4u; i++) {
    sq0 += dot4(q2k_quads(wb, k, i), xb + i, ts, gb + i);
    sq1 += dot4(q2k_quads(wb, k, 4u + i), xb + 4u + i, ts, gb + 4u + i);
    sx0 += dot4(vec4<f32>(1.0), xb + i, ts, gb + i);
    sx1 += dot4(vec4<f32>(1.0), xb + 4u + i, ts, gb + 4u + i);
  }
  return k.d0 * sq0 - k.m0 * sx0 + k.d1 * sq1 - k.m1 * sx1;
}
#endif
