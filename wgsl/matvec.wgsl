// Row partial sums shared by the matrix–vector kernels (matmul.wgsl, qkv.wgsl, glu.wgsl).
//
// Decode (one token) fuses dequantisation into vec4 dot products (dot_unit); prefill decodes each
// 32-element weight unit once into registers and uses it for every token of a TILE, so weights are
// read T/TILE times instead of T times. Lanes stride over a row's units; the caller reduces.
//
// NORM: x is the un-normalised residual stream and G4 the RMSNorm weight. The weight is folded into
// the products here and the caller scales each token's sum by norm_prologue's 1/rms, so the
// normalised row (x / rms(x)) · g is never written to memory: W·((x∘g)/rms) = (W·(x∘g))/rms.
//
// The includer declares `W`, `X4: array<vec4<f32>>` (rows of params.k elements), with NORM also
// `G4: array<vec4<f32>>`, params.eps and the K4 define, and includes "quant" with DOT_UNIT (and
// "reduce" for NORM). `wb` is the tensor's word offset in W (see quant.wgsl).

#ifdef NORM
// Decode: the token's x∘g, staged once per workgroup (K4 = k/4 vec4s), so the hot loop reads one
// vector as the plain matmul does. Prefill tiles fold g into each decoded weight unit instead.
var<workgroup> xs: array<vec4<f32>, K4>;

fn x4_at(i: u32) -> vec4<f32> { return xs[i]; }
#else
fn x4_at(i: u32) -> vec4<f32> { return X4[i]; }
#endif

/** Partial sums of this lane over units lane, lane+stride, … for up to TILE tokens from t0. */
fn row_partials(wb: u32, row: u32, aux: u32, lane: u32, stride: u32, first: u32, t0: u32, n_tok: u32) -> array<f32, TILE> {
  let upr = params.k / 32u;
  let k4 = params.k / 4u;
  var acc: array<f32, TILE>;
  if (n_tok == 1u) {
#ifdef NORM
    let xb = 0u;   // xs holds the token's row
#else
    let xb = first * k4;
#endif
    for (var u = lane; u < upr; u += stride) {
      acc[0] += dot_unit(wb, row, u, upr, aux, xb + u * 8u);
    }
    return acc;
  }
  var w: array<f32, 32>;
  for (var u = lane; u < upr; u += stride) {
    decode_unit(wb, row, u, upr, aux, &w);
#ifdef NORM
    for (var i = 0u; i < 32u; i++) { w[i] *= G4[u * 8u + i / 4u][i % 4u]; }  // once for the whole tile
#endif
    for (var t = 0u; t < TILE; t++) {
      if (t0 + t >= n_tok) { break; }
      let xb = (first + t0 + t) * k4 + u * 8u;
      var s = 0.0;
      for (var i = 0u; i < 8u; i++) {
        s += dot(vec4<f32>(w[4u * i], w[4u * i + 1u], w[4u * i + 2u], w[4u * i + 3u]), X4[xb + i]);
      }
      acc[t] += s;
    }
  }
  return acc;
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
  }
  return inv;
}
#endif
