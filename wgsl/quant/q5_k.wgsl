// block_q5_K (256 elements, 176 bytes = 44 words, word aligned, kept as is): d, dmin (f16, word 0),
// scales[12] (6-bit scale and min per 32-element sub-block, packed as in Q4_K), qh[32] (words 4..11:
// bit j of qh[l] is the fifth bit of element l of sub-block j), qs[128] (words 12..43: sub-blocks
// 2p and 2p+1 share qs[32p..32p+31], low and high nibbles). value = d*sc*q - dmin*m.
#include "k-scale-min"

struct Q5kUnit {
  qbase: u32,   // first word of the sub-block's low 4 bits (shared with its pair, see shift)
  hbase: u32,   // first word of qh
  shift: u32,   // 0: low nibbles, 4: high nibbles
  hbit: u32,    // bit of each qh byte holding this sub-block's fifth bit
  d: f32,       // d · scale
  m: f32,       // dmin · min
};

fn q5k_unit(wb: u32, row: u32, unit: u32, upr: u32) -> Q5kUnit {
  let sb = unit >> 3u;              // super-block within the row
  let j = unit & 7u;                // sub-block within the super-block
  let base = (row * (upr >> 3u) + sb) * 44u;
  let dm = unpack2x16float(W[wb + base]);
  let sbytes = base + 1u;           // scales start at byte 4
  let sm = k_scale_min(wb, sbytes, j);
  return Q5kUnit(base + 12u + (j >> 1u) * 8u, base + 4u, (j & 1u) * 4u, j, dm.x * sm.x, dm.y * sm.y);
}

// Quants (0..31) of elements 4i..4i+3 of the sub-block.
fn q5k_quads(wb: u32, k: Q5kUnit, i: u32) -> vec4<f32> {
  let lo = (W[wb + k.qbase + i] >> k.shift) & 0x0f0f0f0fu;
  let hi = ((W[wb + k.hbase + i] >> k.hbit) & 0x01010101u) << 4u;
  return vec4<f32>(unpack4xU8(lo | hi));
}

fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let k = q5k_unit(wb, row, unit, upr);
  for (var i = 0u; i < 8u; i++) {
    let v = k.d * q5k_quads(wb, k, i) - k.m;
    (*w)[4u * i] = v.x;
    (*w)[4u * i + 1u] = v.y;
    (*w)[4u * i + 2u] = v.z;
    (*w)[4u * i + 3u] = v.w;
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let k = q5k_unit(wb, row, unit, upr);
  return k.d * q5k_quads(wb, k, j) - k.m;
}

#ifdef VEC16
fn unit_vec16(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, h: u32) -> mat4x4<f32> {
  let k = q5k_unit(wb, row, unit, upr);
  let lo = (w16(wb, k.qbase + 4u * h) >> vec4<u32>(k.shift)) & vec4<u32>(0x0f0f0f0fu);
  let hi = ((w16(wb, k.hbase + 4u * h) >> vec4<u32>(k.hbit)) & vec4<u32>(0x01010101u)) << vec4<u32>(4u);
  return affine16(lo | hi, k.d, k.m);
}
#endif

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let k = q5k_unit(wb, row, unit, upr);
  var sq = 0.0;
  var sx = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let xv = x4_at(xb + i);
    sq += dot(q5k_quads(wb, k, i), xv);
    sx += xv.x + xv.y + xv.z + xv.w;
  }
  // value = d·sc·q − dmin·m, so the min term factors out of the sum.
  return k.d * sq - k.m * sx;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let k = q5k_unit(wb, row, unit, upr);
  var sq = vec4<f32>();
  var sx = vec4<f32>();
  for (var i = 0u; i < 8u; i++) {
    sq += dot4(q5k_quads(wb, k, i), xb + i, ts, gb + i);
    sx += dot4(vec4<f32>(1.0), xb + i, ts, gb + i);
  }
  return k.d * sq - k.m * sx;
}
#endif
