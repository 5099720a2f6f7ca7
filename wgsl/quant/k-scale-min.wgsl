// The 6-bit scale and min of sub-block j (0..7) of a Q4_K or Q5_K super-block, packed in 12 bytes
// starting at word `sbytes` as ggml's get_scale_min_k4 reads them (sub-blocks 4..7 borrow the top
// two bits of bytes 0..7). Shared by the q4_k and q5_k snippets through `#include "k-scale-min"`.
fn k_scale_min(wb: u32, sbytes: u32, j: u32) -> vec2<f32> {
  if (j < 4u) {
    return vec2<f32>(f32(byte_at(wb, sbytes, j) & 63u), f32(byte_at(wb, sbytes, j + 4u) & 63u));
  }
  let sc = (byte_at(wb, sbytes, j + 4u) & 0xfu) | ((byte_at(wb, sbytes, j - 4u) >> 6u) << 4u);
  let m = (byte_at(wb, sbytes, j + 4u) >> 4u) | ((byte_at(wb, sbytes, j) >> 6u) << 4u);
  return vec2<f32>(f32(sc), f32(m));
}
