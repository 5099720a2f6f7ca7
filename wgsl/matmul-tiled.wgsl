// Prefill (and any batch of ≥ GEMM_MIN_TOKENS tokens): out[t, r] (+)= W[r, :] · x[t, :] (+ bias[r])
// as a shared-memory tiled GEMM. A workgroup owns a BM-row × BN-token output tile and walks K in
// steps of one 32-element unit: it dequantizes the unit of each of its BM rows once into workgroup
// memory (the per-type snippet's unit_vec4, as everywhere), stages the BN tokens' 32 inputs beside
// it, and every invocation multiplies a 4-row × 4-token register block out of the two tiles. Each
// weight is thus read from memory and decoded once per BN tokens (the register-tile matmul.wgsl
// does it once per 4), and each staged value feeds 4 products from registers.
//
// F16 (shader-f16): the staged tiles are f16 (half the workgroup memory) and the products of each
// run of 4 K-steps are summed in f16 — twice the arithmetic rate where prefill is compute-bound —
// then accumulated in f32, as matvec.wgsl's dot4 rounds for the register-tile kernel.

#include "quant"

#include "matmul-io"

// BM rows × BN tokens per tile (defines, multiples of 4; 64 × 64 on GPUs, see matmul-shape.ts),
// K-step one 32-element unit. WG_SIZE = (BM/4)·(BN/4) invocations, each owning a 4 × 4 register
// block; together they stage the BM·8 and BN·8 vec4s of the two tiles per K-step.
const BK = 32u;

#ifdef F16
alias T = f16;
#else
alias T = f32;
#endif

// vec4s of 4 consecutive k: ws[r * 8 + j] = elements 4j..4j+3 of the unit for tile row r, xt the
// same for token r. Whole vec4s, so each invocation stages and reads whole 16-byte values.
var<workgroup> ws: array<vec4<T>, BM * BK / 4u>;
var<workgroup> xt: array<vec4<T>, BN * BK / 4u>;

/** The 4-term dot products of four weight vec4s with one token's; in T (f16 under F16), summed in f32 after. */
fn dot4x4(w0: vec4<T>, w1: vec4<T>, w2: vec4<T>, w3: vec4<T>, x: vec4<T>) -> vec4<f32> {
  return vec4<f32>(f32(dot(w0, x)), f32(dot(w1, x)), f32(dot(w2, x)), f32(dot(w3, x)));
}

/** Rows r … r+3 of token t, those inside the part and the batch. */
fn write_block(r: u32, t: u32, v: vec4<f32>) {
  if (t >= step.n_tokens) { return; }
  for (var i = 0u; i < 4u; i++) {
    if (r + i < params.rows) { write_out(r + i, t, v[i]); }
  }
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n_tok = step.n_tokens;
  let row0 = wid.x * BM;
  let tok0 = wid.y * BN;
  let upr = params.k / 32u;
  let k4 = params.k / 4u;
  let tr = (lid % (BM / 4u)) * 4u;  // first row of this invocation's block within the tile
  let tc = (lid / (BM / 4u)) * 4u;  // first token
  // acc<c>[i]: row tr + i, token tc + c (four variables, not an array: dynamically indexed private
  // arrays cost registers on GPUs and long compiles on SwiftShader)
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  for (var u = 0u; u < upr; u++) {
    // Stage: vec4 j (of 8) of unit u for tile row / token r; consecutive invocations take
    // consecutive vec4s of one row, then the next row.
    for (var idx = lid; idx < BM * 8u; idx += WG_SIZE) {
      let r = idx >> 3u;
      var w = vec4<f32>();
      if (row0 + r < params.rows) { w = unit_vec4(0u, row0 + r, u, upr, params.aux, idx & 7u); }
      ws[idx] = vec4<T>(w);
    }
    for (var idx = lid; idx < BN * 8u; idx += WG_SIZE) {
      let r = idx >> 3u;
      var x = vec4<f32>();
      if (tok0 + r < n_tok) { x = X4[(tok0 + r) * k4 + u * 8u + (idx & 7u)]; }
      xt[idx] = vec4<T>(x);
    }
    workgroupBarrier();
    // 4 rows × 4 tokens × 4 k per step: 8 vec4 reads feed 16 dot products.
    for (var j = 0u; j < BK / 4u; j++) {
      let w0 = ws[(tr + 0u) * 8u + j];
      let w1 = ws[(tr + 1u) * 8u + j];
      let w2 = ws[(tr + 2u) * 8u + j];
      let w3 = ws[(tr + 3u) * 8u + j];
      acc0 += dot4x4(w0, w1, w2, w3, xt[(tc + 0u) * 8u + j]);
      acc1 += dot4x4(w0, w1, w2, w3, xt[(tc + 1u) * 8u + j]);
      acc2 += dot4x4(w0, w1, w2, w3, xt[(tc + 2u) * 8u + j]);
      acc3 += dot4x4(w0, w1, w2, w3, xt[(tc + 3u) * 8u + j]);
    }
    workgroupBarrier();
  }
  write_block(row0 + tr, tok0 + tc, acc0);
  write_block(row0 + tr, tok0 + tc + 1u, acc1);
  write_block(row0 + tr, tok0 + tc + 2u, acc2);
  write_block(row0 + tr, tok0 + tc + 3u, acc3);
}
