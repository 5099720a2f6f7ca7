// block_iq4_xs (256 elements, 136 bytes = 34 words, word aligned, kept as is): d (f16) and
// scales_h (u16) in word 0, scales_l[4] in word 1, qs[128] in words 2..33. Sub-block u (32
// elements) has the 6-bit scale (stored + 32) nibble u % 2 of scales_l[u / 2] | bits 2u..2u+1 of
// scales_h << 4, and its quants in words 2 + 4u .. +3, laid out like one IQ4_NL block:
// value = d · (scale − 32) · kvalues[q].

#include "iq4-levels"

struct Iq4xsUnit {
  qbase: u32,   // first word of the sub-block's quants
  d: f32,       // d · (scale − 32)
};

fn iq4xs_unit(wb: u32, row: u32, unit: u32, upr: u32) -> Iq4xsUnit {
  let blk = row * (upr >> 3u) + (unit >> 3u);
  let u = unit & 7u;
  let base = blk * 34u;
  let w0 = W[wb + base];
  let low = (W[wb + base + 1u] >> (4u * u)) & 0xfu;
  let high = (w0 >> (16u + 2u * u)) & 3u;
  return Iq4xsUnit(base + 2u + 4u * u, unpack2x16float(w0).x * (f32(low | (high << 4u)) - 32.0));
}

fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let k = iq4xs_unit(wb, row, unit, upr);
  for (var i = 0u; i < 4u; i++) {
    let word = W[wb + k.qbase + i];
    let lo = k.d * iq4nl_quads(word, 0u);
    let hi = k.d * iq4nl_quads(word, 4u);
    for (var b = 0u; b < 4u; b++) {
      (*w)[4u * i + b] = lo[b];
      (*w)[4u * i + b + 16u] = hi[b];
    }
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  // Elements 4j..4j+3: low nibbles of word j for j < 4, high nibbles of word j-4 after.
  let k = iq4xs_unit(wb, row, unit, upr);
  return k.d * iq4nl_quads(W[wb + k.qbase + (j & 3u)], 4u * (j >> 2u));
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let k = iq4xs_unit(wb, row, unit, upr);
  var s = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let word = W[wb + k.qbase + j];
    s += dot(iq4nl_quads(word, 0u), x4_at(xb + j)) + dot(iq4nl_quads(word, 4u), x4_at(xb + 4u + j));
  }
  return k.d * s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let k = iq4xs_unit(wb, row, unit, upr);
  var s = vec4<f32>();
  for (var j = 0u; j < 4u; j++) {
    let word = W[wb + k.qbase + j];
    s += dot4(iq4nl_quads(word, 0u), xb + j, ts, gb + j) + dot4(iq4nl_quads(word, 4u), xb + 4u + j, ts, gb + 4u + j);
  }
  return k.d * s;
}
#endif
