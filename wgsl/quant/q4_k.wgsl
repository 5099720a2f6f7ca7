// block_q4_K (256 elements, 144 bytes, word aligned, kept as is): d, dmin (f16), scales[12]
// (6-bit scale and min per 32-element sub-block), qs[128]: sub-blocks 2p and 2p+1 share qs[32p..32p+31],
// low and high nibbles. value = d*sc*q - dmin*m.
#include "k-scale-min"

// Location and dequantization constants of one 32-element sub-block: x = d·q − m.
struct Q4kUnit {
  qbase: u32,   // first word of the sub-block's quants (shared with its pair, see shift)
  shift: u32,   // 0: low nibbles, 4: high nibbles
  d: f32,       // d · scale
  m: f32,       // dmin · min
};

fn q4k_unit(wb: u32, row: u32, unit: u32, upr: u32) -> Q4kUnit {
  let sb = unit >> 3u;              // super-block within the row
  let j = unit & 7u;                // sub-block within the super-block
  let base = (row * (upr >> 3u) + sb) * 36u;
  let dm = unpack2x16float(W[wb + base]);
  let sbytes = base + 1u;           // scales start at byte 4
  let sm = k_scale_min(wb, sbytes, j);
  // qs start at byte 16 = word 4; sub-blocks 2p and 2p+1 share 8 words.
  return Q4kUnit(base + 4u + (j >> 1u) * 8u, (j & 1u) * 4u, dm.x * sm.x, dm.y * sm.y);
}

fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let k = q4k_unit(wb, row, unit, upr);
  let qbase = k.qbase;
  let shift = k.shift;
  let d = k.d;
  let mn = k.m;
  for (var i = 0u; i < 8u; i++) {
    let word = W[wb + qbase + i];
    for (var b = 0u; b < 4u; b++) {
      let q = (word >> (8u * b + shift)) & 0xfu;
      (*w)[4u * i + b] = d * f32(q) - mn;
    }
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let k = q4k_unit(wb, row, unit, upr);
  return k.d * vec4<f32>(unpack4xU8((W[wb + k.qbase + j] >> k.shift) & 0x0f0f0f0fu)) - k.m;
}

#ifdef VEC16
fn unit_vec16(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, h: u32) -> mat4x4<f32> {
  let k = q4k_unit(wb, row, unit, upr);
  let q = (w16(wb, k.qbase + 4u * h) >> vec4<u32>(k.shift)) & vec4<u32>(0x0f0f0f0fu);
  return affine16(q, k.d, k.m);
}
#endif

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let k = q4k_unit(wb, row, unit, upr);
  var sq = 0.0;
  var sx = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let q = vec4<f32>(unpack4xU8((W[wb + k.qbase + i] >> k.shift) & 0x0f0f0f0fu));
    let xv = x4_at(xb + i);
    sq += dot(q, xv);
    sx += xv.x + xv.y + xv.z + xv.w;
  }
  // value = d·sc·q − dmin·m, so the min term factors out of the sum.
  return k.d * sq - k.m * sx;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let k = q4k_unit(wb, row, unit, upr);
  var sq = vec4<f32>();
  var sx = vec4<f32>();
  for (var i = 0u; i < 8u; i++) {
    let q = vec4<f32>(unpack4xU8((W[wb + k.qbase + i] >> k.shift) & 0x0f0f0f0fu));
    sq += dot4(q, xb + i, ts, gb + i);
    sx += dot4(vec4<f32>(1.0), xb + i, ts, gb + i);
  }
  return k.d * sq - k.m * sx;
}
#endif
