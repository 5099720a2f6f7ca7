// block_iq4_nl (32 elements, 18 bytes): d (f16), qs[16]: element i in the low nibble of qs[i],
// element i+16 in the high nibble, each an index into the 16 non-uniform levels kvalues_iq4nl.
// value = d · kvalues[q]. Repacked: qs (4 words per block), then d at `aux`.

#include "iq4-levels"

fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let blk = row * upr + unit;
  let d = f16_at(wb, aux, blk);
  for (var i = 0u; i < 4u; i++) {
    let word = W[wb + blk * 4u + i];
    let lo = d * iq4nl_quads(word, 0u);
    let hi = d * iq4nl_quads(word, 4u);
    for (var b = 0u; b < 4u; b++) {
      (*w)[4u * i + b] = lo[b];
      (*w)[4u * i + b + 16u] = hi[b];
    }
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  // Elements 4j..4j+3: low nibbles of word j for j < 4, high nibbles of word j-4 after.
  let blk = row * upr + unit;
  return f16_at(wb, aux, blk) * iq4nl_quads(W[wb + blk * 4u + (j & 3u)], 4u * (j >> 2u));
}

#ifdef VEC16
fn unit_vec16(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, h: u32) -> mat4x4<f32> {
  // Half h is nibble h of all 16 quant bytes.
  let blk = row * upr + unit;
  let q = w16(wb, blk * 4u);
  let d = f16_at(wb, aux, blk);
  let s = 4u * h;
  return mat4x4<f32>(d * iq4nl_quads(q.x, s), d * iq4nl_quads(q.y, s), d * iq4nl_quads(q.z, s), d * iq4nl_quads(q.w, s));
}
#endif

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let blk = row * upr + unit;
  var s = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let word = W[wb + blk * 4u + j];
    s += dot(iq4nl_quads(word, 0u), x4_at(xb + j)) + dot(iq4nl_quads(word, 4u), x4_at(xb + 4u + j));
  }
  return f16_at(wb, aux, blk) * s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let blk = row * upr + unit;
  var s = vec4<f32>();
  for (var j = 0u; j < 4u; j++) {
    let word = W[wb + blk * 4u + j];
    s += dot4(iq4nl_quads(word, 0u), xb + j, ts, gb + j) + dot4(iq4nl_quads(word, 4u), xb + 4u + j, ts, gb + 4u + j);
  }
  return f16_at(wb, aux, blk) * s;
}
#endif
