// Shared helpers of the per-quant-type weight decoders, included by kernels that read ggml weights
// (matmul, glu, qkv, embedding, matmul-backward). Each type's decoder lives in its own snippet,
// wgsl/quant/<type>.wgsl, named by the type's row in src/engine/gguf/quant/registry.ts; the kernel
// library supplies it as the include "quant-type" (appended below) for the kernel key's `quant`.
// A snippet defines decode_unit and unit_vec4, and dot_unit / dot_unit4 inside `#ifdef DOT_UNIT`.
//
// Every type is decoded in "units" of 32 consecutive elements of one row, the greatest common
// block size of the supported types, so one loop structure serves all of them. Blocks whose size
// in bytes is not a multiple of 4 are repacked at upload (src/engine/gpu/weight-layout.ts) into
// structure-of-arrays form: the quant payload of every block first, then the moved bytes (f16
// scales, two per u32) at word offset `aux`. Layouts of the payloads follow ggml-common.h bit for bit.
//
// The including kernel declares `W: array<u32>` and may call
//   decode_unit(wb, row, unit, units_per_row, aux, &w)  → w[0..31] = dequantized elements,
//   unit_vec4(wb, row, unit, units_per_row, aux, j)    → elements 4j..4j+3 of the unit, or
//   dot_unit(wb, row, unit, units_per_row, aux, xb)     → Σ w[i]·x4_at(xb + i/4)[i%4],
//   dot_unit4(wb, row, unit, units_per_row, aux, xb, ts, gb) → the same for 4 tokens at once (rows
//     ts vec4s apart, through dot4), each weight vec4 decoded once for all four (prefill tiles):
// weights are decoded straight into vec4 dot products, four per u32 load, with no private array
// (which costs registers or memory on every GPU, and dearly on software adapters).
// A DOT_UNIT includer also defines `x4_at(i) -> vec4<f32>` (X4[i], or a normalised X4[i] when a
// kernel folds RMSNorm into its projections) and `dot4(w, xb, ts, gb) -> vec4<f32>` (see matvec.wgsl).
//
// Every function takes `wb`, the word offset of the tensor inside W: 0u when a tensor has its own
// binding, a uniform when same-type tensors share one buffer (q|k|v, gate|up) so that a fused
// kernel reads them all. A parameter, not a module variable, so it folds away when constant.

fn f16_at(wb: u32, word_index_base: u32, i: u32) -> f32 {
  // i-th f16 in a region of packed halves starting at word `word_index_base`.
  let word = W[wb + word_index_base + (i >> 1u)];
  return unpack2x16float(word)[i & 1u];
}

fn byte_at(wb: u32, word_index_base: u32, byte: u32) -> u32 {
  return (W[wb + word_index_base + (byte >> 2u)] >> ((byte & 3u) * 8u)) & 0xffu;
}

#ifdef VEC16
// 16 bytes of the tensor at word `word` (a multiple of 4): one 16-byte load. Kernels that define
// VEC16 (the decode GEMV, the fused gate/up kernel) bind the weight a second time as `W4: array<vec4<u32>>`, and a snippet
// whose registry row says `vec16` defines
//   unit_vec16(wb, row, unit, units_per_row, aux, h) → elements 16h..16h+15 of the unit as four
//     vec4 columns, reading each of its byte streams (quants, high bits) with one such load.
// Every half-unit of those types starts 16-byte aligned in the (repacked) payload.
fn w16(wb: u32, word: u32) -> vec4<u32> {
  return W4[(wb + word) >> 2u];
}

// d·q − m for the 16 unsigned byte quants of q (four per word): the columns of unit_vec16 for
// the types whose value is a scale times an unsigned quant minus an offset.
fn affine16(q: vec4<u32>, d: f32, m: f32) -> mat4x4<f32> {
  return mat4x4<f32>(
    d * vec4<f32>(unpack4xU8(q.x)) - m,
    d * vec4<f32>(unpack4xU8(q.y)) - m,
    d * vec4<f32>(unpack4xU8(q.z)) - m,
    d * vec4<f32>(unpack4xU8(q.w)) - m,
  );
}
#endif

#include "quant-type"
