// Per-quant-type weight decoding, included by kernels that read ggml weights (matmul, embedding).
//
// Every type is decoded in "units" of 32 consecutive elements of one row, the greatest common
// block size of the supported types, so one loop structure serves all of them. Blocks whose size
// in bytes is not a multiple of 4 are repacked at upload (src/engine/gpu/weight-layout.ts) into
// structure-of-arrays form: the quant payload of every block first, then the f16 scales packed
// two per u32 at word offset `aux`. Layouts of the payloads follow ggml-common.h bit for bit.
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

#ifdef QTYPE_F32
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let base = (row * upr + unit) * 32u;
  for (var i = 0u; i < 32u; i++) { (*w)[i] = bitcast<f32>(W[wb + base + i]); }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let b = wb + (row * upr + unit) * 32u + 4u * j;
  return bitcast<vec4<f32>>(vec4<u32>(W[b], W[b + 1u], W[b + 2u], W[b + 3u]));
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let base = (row * upr + unit) * 32u;
  var s = 0.0;
  for (var j = 0u; j < 8u; j++) {
    let w = bitcast<vec4<f32>>(vec4<u32>(W[wb + base + 4u * j], W[wb + base + 4u * j + 1u], W[wb + base + 4u * j + 2u], W[wb + base + 4u * j + 3u]));
    s += dot(w, x4_at(xb + j));
  }
  return s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let base = (row * upr + unit) * 32u;
  var s = vec4<f32>();
  for (var j = 0u; j < 8u; j++) {
    let w = bitcast<vec4<f32>>(vec4<u32>(W[wb + base + 4u * j], W[wb + base + 4u * j + 1u], W[wb + base + 4u * j + 2u], W[wb + base + 4u * j + 3u]));
    s += dot4(w, xb + j, ts, gb + j);
  }
  return s;
}
#endif
#endif

#ifdef QTYPE_F16
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let base = (row * upr + unit) * 16u;
  for (var i = 0u; i < 16u; i++) {
    let v = unpack2x16float(W[wb + base + i]);
    (*w)[2u * i] = v.x;
    (*w)[2u * i + 1u] = v.y;
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let b = wb + (row * upr + unit) * 16u + 2u * j;
  return vec4<f32>(unpack2x16float(W[b]), unpack2x16float(W[b + 1u]));
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let base = (row * upr + unit) * 16u;
  var s = 0.0;
  for (var j = 0u; j < 8u; j++) {
    let w = vec4<f32>(unpack2x16float(W[wb + base + 2u * j]), unpack2x16float(W[wb + base + 2u * j + 1u]));
    s += dot(w, x4_at(xb + j));
  }
  return s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let base = (row * upr + unit) * 16u;
  var s = vec4<f32>();
  for (var j = 0u; j < 8u; j++) {
    let w = vec4<f32>(unpack2x16float(W[wb + base + 2u * j]), unpack2x16float(W[wb + base + 2u * j + 1u]));
    s += dot4(w, xb + j, ts, gb + j);
  }
  return s;
}
#endif
#endif

#ifdef QTYPE_BF16
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let base = (row * upr + unit) * 16u;
  for (var i = 0u; i < 16u; i++) {
    let p = W[wb + base + i];
    (*w)[2u * i] = bitcast<f32>(p << 16u);
    (*w)[2u * i + 1u] = bitcast<f32>(p & 0xffff0000u);
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let b = wb + (row * upr + unit) * 16u + 2u * j;
  let p = W[b];
  let q = W[b + 1u];
  return bitcast<vec4<f32>>(vec4<u32>(p << 16u, p & 0xffff0000u, q << 16u, q & 0xffff0000u));
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let base = (row * upr + unit) * 16u;
  var s = 0.0;
  for (var j = 0u; j < 8u; j++) {
    let p = W[wb + base + 2u * j];
    let q = W[wb + base + 2u * j + 1u];
    let w = bitcast<vec4<f32>>(vec4<u32>(p << 16u, p & 0xffff0000u, q << 16u, q & 0xffff0000u));
    s += dot(w, x4_at(xb + j));
  }
  return s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let base = (row * upr + unit) * 16u;
  var s = vec4<f32>();
  for (var j = 0u; j < 8u; j++) {
    let p = W[wb + base + 2u * j];
    let q = W[wb + base + 2u * j + 1u];
    let w = bitcast<vec4<f32>>(vec4<u32>(p << 16u, p & 0xffff0000u, q << 16u, q & 0xffff0000u));
    s += dot4(w, xb + j, ts, gb + j);
  }
  return s;
}
#endif
#endif

#ifdef QTYPE_Q8_0
// block_q8_0: d (f16), qs[32] (i8). Repacked: qs of all blocks (8 words each), then d at `aux`.
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let blk = row * upr + unit;
  let d = f16_at(wb, aux, blk);
  for (var i = 0u; i < 8u; i++) {
    let q = bitcast<vec4<i32>>(unpack4xI8(W[wb + blk * 8u + i]));
    (*w)[4u * i] = d * f32(q.x);
    (*w)[4u * i + 1u] = d * f32(q.y);
    (*w)[4u * i + 2u] = d * f32(q.z);
    (*w)[4u * i + 3u] = d * f32(q.w);
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let blk = row * upr + unit;
  return f16_at(wb, aux, blk) * vec4<f32>(unpack4xI8(W[wb + blk * 8u + j]));
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let blk = row * upr + unit;
  var s = 0.0;
  for (var j = 0u; j < 8u; j++) {
    s += dot(vec4<f32>(unpack4xI8(W[wb + blk * 8u + j])), x4_at(xb + j));
  }
  return f16_at(wb, aux, blk) * s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let blk = row * upr + unit;
  var s = vec4<f32>();
  for (var j = 0u; j < 8u; j++) {
    s += dot4(vec4<f32>(unpack4xI8(W[wb + blk * 8u + j])), xb + j, ts, gb + j);
  }
  return f16_at(wb, aux, blk) * s;
}
#endif
#endif

#ifdef QTYPE_Q4_0
// block_q4_0: d (f16), qs[16]: element i in low nibble of qs[i], element i+16 in the high nibble;
// value = (q - 8) * d. Repacked: qs (4 words per block), then d at `aux`.
fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let blk = row * upr + unit;
  let d = f16_at(wb, aux, blk);
  for (var i = 0u; i < 4u; i++) {
    let word = W[wb + blk * 4u + i];
    for (var b = 0u; b < 4u; b++) {
      let byte = (word >> (8u * b)) & 0xffu;
      (*w)[4u * i + b] = d * (f32(byte & 0xfu) - 8.0);
      (*w)[4u * i + b + 16u] = d * (f32(byte >> 4u) - 8.0);
    }
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  // Elements 4j..4j+3: low nibbles of word j for j < 4, high nibbles of word j-4 after.
  let blk = row * upr + unit;
  let word = W[wb + blk * 4u + (j & 3u)] >> (4u * (j >> 2u));
  return f16_at(wb, aux, blk) * (vec4<f32>(unpack4xU8(word & 0x0f0f0f0fu)) - 8.0);
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let blk = row * upr + unit;
  var s = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let word = W[wb + blk * 4u + j];
    let lo = vec4<f32>(unpack4xU8(word & 0x0f0f0f0fu)) - 8.0;
    let hi = vec4<f32>(unpack4xU8((word >> 4u) & 0x0f0f0f0fu)) - 8.0;
    s += dot(lo, x4_at(xb + j)) + dot(hi, x4_at(xb + 4u + j));
  }
  return f16_at(wb, aux, blk) * s;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let blk = row * upr + unit;
  var s = vec4<f32>();
  for (var j = 0u; j < 4u; j++) {
    let word = W[wb + blk * 4u + j];
    let lo = vec4<f32>(unpack4xU8(word & 0x0f0f0f0fu)) - 8.0;
    let hi = vec4<f32>(unpack4xU8((word >> 4u) & 0x0f0f0f0fu)) - 8.0;
    s += dot4(lo, xb + j, ts, gb + j) + dot4(hi, xb + 4u + j, ts, gb + 4u + j);
  }
  return f16_at(wb, aux, blk) * s;
}
#endif
#endif

#ifdef QTYPE_Q4_K
// block_q4_K (256 elements, 144 bytes, word aligned, kept as is): d, dmin (f16), scales[12]
// (6-bit scale and min per 32-element sub-block), qs[128]: sub-blocks 2p and 2p+1 share qs[32p..32p+31],
// low and high nibbles. value = d*sc*q - dmin*m.
// Location and dequantization constants of one 32-element sub-block: x = d·q − m.
struct Q4kUnit {
  qbase: u32,   // first word of the sub-block's quants (shared with its pair, see shift)
  shift: u32,   // 0: low nibbles, 4: high nibbles
  d: f32,       // d · scale
  m: f32,       // dmin · min
};

fn q4k_unit(wb: u32, row: u32, unit: u32, upr: u32) -> Q4kUnit {
  let sb = unit >> 3u;              // super-block within the row
  let j = unit & 7u;                // sub-block within the super-block
  let base = (row * (upr >> 3u) + sb) * 36u;
  let dm = unpack2x16float(W[wb + base]);
  let sbytes = base + 1u;           // scales start at byte 4
  var sc: u32;
  var m: u32;
  if (j < 4u) {
    sc = byte_at(wb, sbytes, j) & 63u;
    m = byte_at(wb, sbytes, j + 4u) & 63u;
  } else {
    sc = (byte_at(wb, sbytes, j + 4u) & 0xfu) | ((byte_at(wb, sbytes, j - 4u) >> 6u) << 4u);
    m = (byte_at(wb, sbytes, j + 4u) >> 4u) | ((byte_at(wb, sbytes, j) >> 6u) << 4u);
  }
  // qs start at byte 16 = word 4; sub-blocks 2p and 2p+1 share 8 words.
  return Q4kUnit(base + 4u + (j >> 1u) * 8u, (j & 1u) * 4u, dm.x * f32(sc), dm.y * f32(m));
}

fn decode_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, w: ptr<function, array<f32, 32>>) {
  let k = q4k_unit(wb, row, unit, upr);
  let qbase = k.qbase;
  let shift = k.shift;
  let d = k.d;
  let mn = k.m;
  for (var i = 0u; i < 8u; i++) {
    let word = W[wb + qbase + i];
    for (var b = 0u; b < 4u; b++) {
      let q = (word >> (8u * b + shift)) & 0xfu;
      (*w)[4u * i + b] = d * f32(q) - mn;
    }
  }
}

fn unit_vec4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, j: u32) -> vec4<f32> {
  let k = q4k_unit(wb, row, unit, upr);
  return k.d * vec4<f32>(unpack4xU8((W[wb + k.qbase + j] >> k.shift) & 0x0f0f0f0fu)) - k.m;
}

#ifdef DOT_UNIT
fn dot_unit(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32) -> f32 {
  let k = q4k_unit(wb, row, unit, upr);
  var sq = 0.0;
  var sx = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let q = vec4<f32>(unpack4xU8((W[wb + k.qbase + i] >> k.shift) & 0x0f0f0f0fu));
    let xv = x4_at(xb + i);
    sq += dot(q, xv);
    sx += xv.x + xv.y + xv.z + xv.w;
  }
  // value = d·sc·q − dmin·m, so the min term factors out of the sum.
  return k.d * sq - k.m * sx;
}

fn dot_unit4(wb: u32, row: u32, unit: u32, upr: u32, aux: u32, xb: u32, ts: u32, gb: u32) -> vec4<f32> {
  let k = q4k_unit(wb, row, unit, upr);
  var sq = vec4<f32>();
  var sx = vec4<f32>();
  for (var i = 0u; i < 8u; i++) {
    let q = vec4<f32>(unpack4xU8((W[wb + k.qbase + i] >> k.shift) & 0x0f0f0f0fu));
    sq += dot4(q, xb + i, ts, gb + i);
    sx += dot4(vec4<f32>(1.0), xb + i, ts, gb + i);
  }
  return k.d * sq - k.m * sx;
}
#endif
#endif

#ifdef QTYPE_Q6_K
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
#endif
