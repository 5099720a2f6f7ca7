// The 16 non-uniform levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl), shared by both snippets
// through `#include "iq4-levels"`.

// The levels as signed bytes, four per word (−127 −104 −83 −65 | −49 −35 −22 −10 | 1 13 25 38 |
// 53 69 89 113): looked up with selects and shifts, no array in private or workgroup memory.
fn iq4nl_levels(q: vec4<u32>) -> vec4<f32> {
  let upper = (q & vec4<u32>(4u)) != vec4<u32>(0u);
  let neg = select(vec4<u32>(0xbfad9881u), vec4<u32>(0xf6eaddcfu), upper);
  let pos = select(vec4<u32>(0x26190d01u), vec4<u32>(0x71594535u), upper);
  let word = select(neg, pos, q >= vec4<u32>(8u));
  let byte = (word >> ((q & vec4<u32>(3u)) * 8u)) << vec4<u32>(24u);
  return vec4<f32>(bitcast<vec4<i32>>(byte) >> vec4<u32>(24u));
}

// Levels of the four nibbles (low nibbles when shift is 0, high when 4) of one word.
fn iq4nl_quads(word: u32, shift: u32) -> vec4<f32> {
  return iq4nl_levels(unpack4xU8((word >> shift) & 0x0f0f0f0fu));
}
