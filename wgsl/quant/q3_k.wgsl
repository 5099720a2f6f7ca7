// block_q3_K (256 elements, 110 bytes): hmask[32] (third bit of each quant), qs[64] (low 2 bits),
// scales[12] (sixteen 6-bit scales, stored + 32), d (f16). Repacked: the first 108 bytes of each
// block (27 words: hmask 0..7, qs 8..23, scales 24..26), then d at `aux`. Unit u (32 elements) of
// a block: low bits are the 2-bit field 2·(u & 3) of qs bytes 32·(u >> 2) .. +31, the third bit is
// bit u of hmask bytes 0..31 (clear means −4); halves are sub-blocks 2u and 2u+1.
// value = d·(scale − 32)·(q − 4), q = low | third << 2.
struct Q3kUnit {
  qbase: u32,   // first word of the unit's low bits
  hbase: u32,   // first word of hmask
  shift: u32,   // bit offset of the 2-bit field in each qs byte
  hbit: u32,    // bit of each hmask byte holding the unit's third bit
  d0: f32,      // d · (scale − 32), elements 0..15
  d1: f32,      // the same for elements 16..31
};

// 6-bit scale of sub-block j: low 4 bits from the low (j < 8) or high (j ≥ 8) nibble of
// scales[j % 8], high 2 bits from bits 2·(j / 4) of scales[8 + j % 4].
fn q3k_scale(wb: u32, sbase: u32, j: u32) -> f32 {
  let low = (byte_at(wb, sbase, j & 7u) >> (4u * (j >> 3u))) & 0xfu;
  let high = (byte_at(wb, sbase, 8u + (j & 3u)) >> (2u * (j >> 2u))) & 3u;
  return f32(low | (high << 4u)) - 32.0;
}

fn q3k_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32) -> Q3kUnit {
  let blk = row * (upr >> 3u) + (unit >> 3u);
  let u = unit & 7u;
  let base = blk * 27u;
  let d = f16_at(wb, aux, blk);
  return Q3kUnit(
    base + 8u + (u >> 2u) * 8u,
    base,
    2u * (u & 3u),
    u,
    d * q3k_scale(wb, base + 24u, 2u * u),
    d * q3k_scale(wb, base + 24u, 2u * u + 1u),
  );
}

// Signed quants (−4..3) of elements 4i..4i+3 of the unit.
fn q3k_quads(wb: u32, k: Q3kUnit, i: u32) -> vec4<f32> {
  let lo = (W[wb + k.qbase + i] >> k.shift) & 0x03030303u;
  let hi = ((W[wb + k.hbase + i] >> k.hbit) & 0x01010101u) << 2u;
  return vec4<f32>(unpack4xU8(lo | hi)) - 4.0;
}

fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let k = q3k_unit(wb, row, unit, upr, aux);
  for (var i = 0u; i < 8u; i++) {
    let v = select(k.d1, k.d0, i < 4u) * q3k_quads(wb, k, i);
    (*w)[4u * i] = v.x;
    (*w)[4u * i + 1u] = v.y;
    (*w)[4u * i + 2u] = v.z;
    (*w)[4u * i + 3u] = v.w;
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let k = q3k_unit(wb, row, unit, upr, aux);
  return select(k.d1, k.d0, j < 4u) * q3k_quads(wb, k, j);
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let k = q3k_unit(wb, row, unit, upr, aux);
  var s0 = 0.0;
  var s1 = 0.0;
  for (var i = 0u; i < 4u; i++) {
    s0 += dot(q3k_quads(wb, k, i), x4_at(xb + i));
    s1 += dot(q3k_quads(wb, k, 4u + i), x4_at(xb + 4u + i));
  }
  return k.d0 * s0 + k.d1 * s1;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let k = q3k_unit(wb, row, unit, upr, aux);
  var s0 = vec4<f32>();
  var s1 = vec4<f32>();
  for (var i = 0u; i < 4u; i++) {
    s0 += dot4(q3k_quads(wb, k, i), xb + i, ts, gb + i);
    s1 += dot4(q3k_quads(wb, k, 4u + i), xb + 4u + i, ts, gb + 4u + i);
  }
  return k.d0 * s0 + k.d1 * s1;
}
#endif
