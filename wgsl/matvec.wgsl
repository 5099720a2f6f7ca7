// Row partial sums shared by the matrix–vector kernels (matmul.wgsl, qkv.wgsl, glu.wgsl).
//
// Decode (one token) fuses dequantisation into vec4 dot products (dot_unit); prefill decodes each
// weight vec4 once for the 4 tokens of a TILE (dot_unit4), so weights are read and decoded T/4
// times instead of T times. Lanes stride over a row's units; the caller reduces.
//
// NORM: x is the un-normalised residual stream and G4 the RMSNorm weight. The weight is folded into
// the products (decode: x∘g staged in workgroup memory; prefill: g times each decoded weight vec4)
// and the caller scales each token's sum by norm_prologue's 1/rms, so the normalised row
// (x / rms(x)) · g is never written to memory: W·((x∘g)/rms) = (W·(x∘g))/rms.
//
// The includer declares `W`, `X4: array<vec4<f32>>` (rows of params.k elements), with NORM also
// `G4: array<vec4<f32>>`, params.eps and the K4 define, and includes "quant" with DOT_UNIT (and
// "reduce" for NORM). `wb` is the tensor's word offset in W (see quant.wgsl).

#ifdef NORM
// Decode: the token's x∘g, staged once per workgroup (K4 = k/4 vec4s), so the hot loop reads one
// vector as the plain matmul does. Prefill tiles fold g into each decoded weight unit instead.
var<workgroup> xs: array<vec4<f32>, K4>;

fn x4_at(i: u32) -> vec4<f32> { return xs[i]; }

#ifdef F16
// The tile's 1/rms and rms per token (1 past the batch), set by norm_prologue for dot4.
var<private> tile_inv: vec4<f32> = vec4<f32>(1.0);
var<private> tile_rms: vec4<f32> = vec4<f32>(1.0);
#endif
#else
fn x4_at(i: u32) -> vec4<f32> { return X4[i]; }
#endif

/**
 * w · x of the 4 tokens whose rows start at xb, xb + ts, …; under NORM x is scaled by G4[g].
 * F16 (shader-f16): the weights and x are rounded to f16 and each 4-term dot is taken in f16 —
 * twice the arithmetic rate on most GPUs, where prefill is compute-bound — and summed in f32.
 * (llama.cpp likewise rounds x to f16 for F16 weights.) Decode stays f32: it is memory-bound.
 */
fn dot4(w: vec4<f32>, xb: u32, ts: u32, g: u32) -> vec4<f32> {
#ifdef NORM
  let w4 = w * G4[g];
#else
  let w4 = w;
#endif
#ifdef F16
  let h = vec4<f16>(w4);
#ifdef NORM
  // x is the residual stream itself, which passes f16's 65504 on Gemma-class models: it is
  // normalised (f32) before rounding, and the sum scaled back by rms for the caller's 1/rms.
  return vec4<f32>(
    f32(dot(h, vec4<f16>(X4[xb] * tile_inv.x))),
    f32(dot(h, vec4<f16>(X4[xb + ts] * tile_inv.y))),
    f32(dot(h, vec4<f16>(X4[xb + 2u * ts] * tile_inv.z))),
    f32(dot(h, vec4<f16>(X4[xb + 3u * ts] * tile_inv.w))),
  ) * tile_rms;
#else
  return vec4<f32>(
    f32(dot(h, vec4<f16>(X4[xb]))),
    f32(dot(h, vec4<f16>(X4[xb + ts]))),
    f32(dot(h, vec4<f16>(X4[xb + 2u * ts]))),
    f32(dot(h, vec4<f16>(X4[xb + 3u * ts]))),
  );
#endif
#else
  return vec4<f32>(dot(w4, X4[xb]), dot(w4, X4[xb + ts]), dot(w4, X4[xb + 2u * ts]), dot(w4, X4[xb + 3u * ts]));
#endif
}

/**
 * Partial sums of this lane over units lane, lane+stride, … for the tokens t0 … t0+TILE-1 (TILE
 * is 4: dot_unit4). Rows past the batch are computed from whatever the buffer holds and dropped.
 */
fn row_partials(wb: u32, row: u32, aux: u32, lane: u32, stride: u32, first: u32, t0: u32, n_tok: u32) -> array<f32, TILE> {
  let upr = params.k / 32u;
  let k4 = params.k / 4u;
  if (n_tok == 1u) {
#ifdef NORM
    let xb = 0u;   // xs holds the token's row
#else
    let xb = first * k4;
#endif
    var acc = 0.0;
#ifdef COALESCED
    // GPU decode (the fused gate/up kernel; CPU emulators do not run it by default): lanes take consecutive
    // pieces of the row, as gemv.wgsl's do — 16-weight half-units read with 16-byte loads where
    // the type allows (VEC16), else vec4 groups read a word at a time — instead of a unit each.
#ifdef VEC16
    for (var hu = lane; hu < 2u * upr; hu += stride) {
      let m = unit_vec16(wb, row, hu >> 1u, upr, aux, hu & 1u);
      let b = xb + 4u * hu;
      acc += dot(m[0], x4_at(b)) + dot(m[1], x4_at(b + 1u)) + dot(m[2], x4_at(b + 2u)) + dot(m[3], x4_at(b + 3u));
    }
#else
    for (var g = lane; g < k4; g += stride) {
      acc += dot(unit_vec4(wb, row, g >> 3u, upr, aux, g & 7u), x4_at(xb + g));
    }
#endif
#else
    // Emulator decode (matmul.wgsl): a lane per unit, decoded straight into dot products.
    for (var u = lane; u < upr; u += stride) {
      acc += dot_unit(wb, row, u, upr, aux, xb + u * 8u);
    }
#endif
    return array<f32, TILE>(acc, 0.0, 0.0, 0.0);
  }
  var acc4 = vec4<f32>();
  let xb = (first + t0) * k4;
  for (var u = lane; u < upr; u += stride) {
    acc4 += dot_unit4(wb, row, u, upr, aux, xb + u * 8u, k4, u * 8u);
  }
  return array<f32, TILE>(acc4.x, acc4.y, acc4.z, acc4.w);
}

#ifdef NORM
/**
 * 1/rms of the tile's token rows (tokens first+t0 … ; 1.0 past n_tok), summed by the whole
 * workgroup; for one token it also stages x∘g in xs. Every invocation must call it, in uniform
 * control flow.
 */
#ifdef SUBGROUPS
fn norm_prologue(first: u32, t0: u32, n_tok: u32, lid: u32, sg_lane: u32, sg_size: u32) -> array<f32, TILE> {
#else
fn norm_prologue(first: u32, t0: u32, n_tok: u32, lid: u32) -> array<f32, TILE> {
#endif
  let k4 = params.k / 4u;
  var inv: array<f32, TILE>;
  let nt = min(TILE, n_tok - min(t0, n_tok));
  for (var t = 0u; t < nt; t++) {
    let b = (first + t0 + t) * k4;
    var ss = 0.0;
    for (var i = lid; i < k4; i += WG_SIZE) {
      let v = X4[b + i];
      ss += dot(v, v);
      if (n_tok == 1u) { xs[i] = v * G4[i]; }
    }
    // The reduction's barriers also publish xs to the workgroup.
#ifdef SUBGROUPS
    let total = reduce_sum(ss, lid, sg_lane, sg_size);
#else
    let total = reduce_sum(ss, lid);
#endif
    inv[t] = inverseSqrt(total / f32(params.k) + params.eps);
#ifdef F16
    tile_inv[t] = inv[t];
    tile_rms[t] = 1.0 / inv[t];
#endif
  }
  return inv;
}
#endif
