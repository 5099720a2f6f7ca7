// Workgroup-wide sum. With subgroups: add within each subgroup, then across subgroups through
// workgroup memory (any subgroup size). Without: a shared-memory tree. Every invocation of the
// workgroup must call it (uniform control flow); the result is valid in every invocation.

var<workgroup> red_scratch: array<f32, WG_SIZE>;

#ifdef SUBGROUPS
fn reduce_sum(v: f32, lid: u32, sg_lane: u32, sg_size: u32) -> f32 {
  let s = subgroupAdd(v);
  let n_sg = (WG_SIZE + sg_size - 1u) / sg_size;
  if (sg_lane == 0u) { red_scratch[lid / sg_size] = s; }
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < n_sg; i++) { total += red_scratch[i]; }
  workgroupBarrier();
  return total;
}

fn reduce_max(v: f32, lid: u32, sg_lane: u32, sg_size: u32) -> f32 {
  let s = subgroupMax(v);
  let n_sg = (WG_SIZE + sg_size - 1u) / sg_size;
  if (sg_lane == 0u) { red_scratch[lid / sg_size] = s; }
  workgroupBarrier();
  var m = red_scratch[0];
  for (var i = 1u; i < n_sg; i++) { m = max(m, red_scratch[i]); }
  workgroupBarrier();
  return m;
}
#else
fn reduce_sum(v: f32, lid: u32) -> f32 {
  red_scratch[lid] = v;
  workgroupBarrier();
  for (var s = WG_SIZE / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red_scratch[lid] += red_scratch[lid + s]; }
    workgroupBarrier();
  }
  let total = red_scratch[0];
  workgroupBarrier();
  return total;
}

fn reduce_max(v: f32, lid: u32) -> f32 {
  red_scratch[lid] = v;
  workgroupBarrier();
  for (var s = WG_SIZE / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red_scratch[lid] = max(red_scratch[lid], red_scratch[lid + s]); }
    workgroupBarrier();
  }
  let m = red_scratch[0];
  workgroupBarrier();
  return m;
}
#endif
