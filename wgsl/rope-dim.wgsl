// One rotated dimension of a RoPE head, shared by rope.wgsl (k read from a buffer) and qkv.wgsl (a
// head held in workgroup memory). NORM style rotates pairs (2i, 2i+1); NEOX pairs (i, i+n_rot/2).
// The includer declares `cos_sin: array<vec2<f32>>` ([position][pair], see rope.wgsl).

struct RopeDim {
  a: u32,         // offset in the head of the pair's first dim
  b: u32,         // and of its second
  first: bool,    // the dim asked for is the pair's first
  cs: vec2<f32>,  // cos and sin of the pair's angle at the position
};

/** The pair of dimension d (< n_rot) and its angle at pos. */
fn rope_dim_of(d: u32, n_rot: u32, pos: u32) -> RopeDim {
  let half_rot = n_rot / 2u;
#ifdef NEOX
  let i = d % half_rot;
  let r = RopeDim(i, i + half_rot, d < half_rot, vec2<f32>());
#else
  let i = d / 2u;
  let r = RopeDim(2u * i, 2u * i + 1u, (d & 1u) == 0u, vec2<f32>());
#endif
  return RopeDim(r.a, r.b, r.first, cos_sin[pos * half_rot + i]);
}

/** The rotated value of the dim described by r, given its pair's values a and b. */
fn rope_rotate(r: RopeDim, a: f32, b: f32) -> f32 {
  return select(a * r.cs.y + b * r.cs.x, a * r.cs.x - b * r.cs.y, r.first);
}
