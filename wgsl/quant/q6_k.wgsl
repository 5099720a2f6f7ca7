// block_q6_K (256 elements, 210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (i8),
// d (f16). Repacked: the first 208 bytes of each block (52 words), then d at `aux`.
// Element l + 32*qq of half n (qq in 0..3) = d * sc[8n + 2qq + l/16] * (q - 32), where
// q = ((ql[64n + 32*(qq&1) + l] >> 4*(qq>>1)) & 15) | (((qh[32n + l] >> 2qq) & 3) << 4).
// Location and scales of one 32-element unit: the two 16-element halves have their own i8 scale.
struct Q6kUnit {
  qlw: u32,      // first word of the low 4 bits
  qhw: u32,      // first word of the high 2 bits
  lshift: u32,
  hshift: u32,
  s0: f32,       // d · scale of elements 0..15
  s1: f32,       // d · scale of elements 16..31
};

fn q6k_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32) -> Q6kUnit {
  let blk = row * (upr >> 3u) + (unit >> 3u);
  let base = blk * 52u;
  let d = f16_at(wb, aux, blk);
  let n = (unit & 7u) >> 2u;
  let qq = unit & 3u;
  let sc0 = f32(bitcast<i32>(byte_at(wb, base + 48u, 8u * n + 2u * qq) << 24u) >> 24u);
  let sc1 = f32(bitcast<i32>(byte_at(wb, base + 48u, 8u * n + 2u * qq + 1u) << 24u) >> 24u);
  return Q6kUnit(
    base + (64u * n + 32u * (qq & 1u)) / 4u,
    base + 32u + (32u * n) / 4u,
    4u * (qq >> 1u),
    2u * qq,
    d * sc0,
    d * sc1,
  );
}

fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let k = q6k_unit(wb, row, unit, upr, aux);
  for (var i = 0u; i < 8u; i++) {
    let lw = W[wb + k.qlw + i];
    let hw = W[wb + k.qhw + i];
    let s = select(k.s1, k.s0, i < 4u);
    for (var b = 0u; b < 4u; b++) {
      let lo = (lw >> (8u * b + k.lshift)) & 0xfu;
      let hi = (hw >> (8u * b + k.hshift)) & 3u;
      (*w)[4u * i + b] = s * (f32(lo | (hi << 4u)) - 32.0);
    }
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let k = q6k_unit(wb, row, unit, upr, aux);
  let lo = (W[wb + k.qlw + j] >> k.lshift) & 0x0f0f0f0fu;
  let hi = (W[wb + k.qhw + j] >> k.hshift) & 0x03030303u;
  return select(k.s1, k.s0, j < 4u) * (vec4<f32>(unpack4xU8(lo | (hi << 4u))) - 32.0);
}

#ifdef VEC16
fn unit_vec16(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, h: u32) -> mat4x4<f32> {
  // Half h has its own i8 scale.
  let k = q6k_unit(wb, row, unit, upr, aux);
  let lo = (w16(wb, k.qlw + 4u * h) >> vec4<u32>(k.lshift)) & vec4<u32>(0x0f0f0f0fu);
  let hi = (w16(wb, k.qhw + 4u * h) >> vec4<u32>(k.hshift)) & vec4<u32>(0x03030303u);
  let q = lo | (hi << vec4<u32>(4u));
  let s = select(k.s0, k.s1, h == 1u);
  return affine16(q, s, 32.0 * s);
}
#endif

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let k = q6k_unit(wb, row, unit, upr, aux);
  var s0 = 0.0;
  var s1 = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let lo = (W[wb + k.qlw + i] >> k.lshift) & 0x0f0f0f0fu;
    let hi = (W[wb + k.qhw + i] >> k.hshift) & 0x03030303u;
    let d = dot(vec4<f32>(unpack4xU8(lo | (hi << 4u))) - 32.0, x4_at(xb + i));
    if (i < 4u) { s0 += d; } else { s1 += d; }
  }
  return k.s0 * s0 + k.s1 * s1;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let k = q6k_unit(wb, row, unit, upr, aux);
  var s0 = vec4<f32>();
  var s1 = vec4<f32>();
  for (var i = 0u; i < 8u; i++) {
    let lo = (W[wb + k.qlw + i] >> k.lshift) & 0x0f0f0f0fu;
    let hi = (W[wb + k.qhw + i] >> k.hshift) & 0x03030303u;
    let d = dot4(vec4<f32>(unpack4xU8(lo | (hi << 4u))) - 32.0, xb + i, ts, gb + i);
    if (i < 4u) { s0 += d; } else { s1 += d; }
  }
  return k.s0 * s0 + k.s1 * s1;
}
#endif
