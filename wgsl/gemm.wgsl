// General f32 matrix product for the small dense matrices of LoRA training:
//   C[m, n] = alpha · Σ_k A(m, k) · B(k, n) + beta · C[m, n]
// with A(m, k) = A[m·lda + k] (or A[k·lda + m] when trans_a) and B(k, n) = B[k·ldb + n] (or
// B[n·ldb + k] when trans_b). One of m, n, k may be the batch's token count (tokens_dim), so one
// pipeline and one bind group serve sequences of any length. LoRA's products are skinny (one side
// is the rank, 4–64), so each invocation computes one output with no workgroup barrier: on a
// software adapter barriers cost more than the arithmetic, and a GPU reads these few KiB from cache.

struct GemmParams {
  m: u32,
  n: u32,
  k: u32,
  lda: u32,
  ldb: u32,
  ldc: u32,
  trans_a: u32,
  trans_b: u32,
  alpha: f32,
  beta: f32,        // 0: C is overwritten (never read, so stale NaNs cannot leak in)
  tokens_dim: u32,  // 0: none; 1: m, 2: n, 3: k is step.n_tokens
  _pad: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> params: GemmParams;
@group(0) @binding(4) var<uniform> step: Step;

fn a_at(m: u32, k: u32) -> f32 {
  if (params.trans_a != 0u) { return A[k * params.lda + m]; }
  return A[m * params.lda + k];
}

fn b_at(k: u32, n: u32) -> f32 {
  if (params.trans_b != 0u) { return B[n * params.ldb + k]; }
  return B[k * params.ldb + n];
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  var d = vec3<u32>(params.m, params.n, params.k);
  if (params.tokens_dim == 1u) { d.x = step.n_tokens; }
  if (params.tokens_dim == 2u) { d.y = step.n_tokens; }
  if (params.tokens_dim == 3u) { d.z = step.n_tokens; }
  let i = gid.x + gid.y * nwg.x * WG_SIZE;
  if (i >= d.x * d.y) { return; }
  let row = i / d.y;
  let col = i % d.y;
  var acc = 0.0;
  for (var k = 0u; k < d.z; k++) { acc += a_at(row, k) * b_at(k, col); }
  let o = row * params.ldc + col;
  if (params.beta == 0.0) {
    C[o] = params.alpha * acc;
  } else {
    C[o] = params.alpha * acc + params.beta * C[o];
  }
}
