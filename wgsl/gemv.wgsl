// Decode: out[r] (+)= W[r, :] · x (+ bias[r]) for one token — the matrix × vector product that
// reads every weight byte once per generated token, so it must run at memory bandwidth.
//
// Layout of the work (the choices bench/README.md "Kernel structure" reasons about):
//  - A *team* of lanes owns one row at a time: a subgroup (SUBGROUPS; its actual size comes from
//    the subgroup_size builtin) or, without subgroups, TEAM invocations reduced through workgroup
//    memory. Lane l of a team reads the row's vec4 groups l, l + lanes, l + 2·lanes, …, so at
//    every step the team's loads cover one contiguous span of the row's blocks (coalesced), and
//    the header of a block (its scales) is one address shared by the lanes inside that block.
//  - ROWS rows per workgroup share the token's x, staged once per XC-vec4 chunk in workgroup
//    memory (a workgroup stages ≤ XC·16 bytes at a time, so any row length fits any device).
//  - ROWS and SLOTS come from the device's subgroup size range (ops.ts gemvShape): every team
//    gets ROWS / teams rows, SLOTS ≥ that many accumulators, so no team idles when the actual
//    subgroup is smaller than the largest the device reports.
//  - VEC16 (types whose registry row says vec16, the common ones): a lane's step is a half-unit
//    of 16 elements, read with one 16-byte load per byte stream (unit_vec16), so consecutive lanes
//    read consecutive 16-byte pieces and a block's scales are decoded once per 16 elements. x is
//    staged transposed (vec4 j of half-unit v at xs[j·XC/4 + v]) so that those lanes' reads of
//    workgroup memory are consecutive too (no bank conflicts). Other types: a lane's step is one
//    vec4 group read as one word per stream (unit_vec4).
// The per-type snippet stays a block dequantizer (see quant.wgsl).

diagnostic(off, subgroup_uniformity);

#include "quant"

#include "matmul-io"

var<workgroup> xs: array<vec4<f32>, XC>;
#ifndef SUBGROUPS
var<workgroup> red: array<f32, WG_SIZE>;
#endif

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUPS
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
#endif
) {
  // The input token; the output always has one token row.
  var t = 0u;
  if (params.x_row == 1u) { t = step.n_tokens - 1u; }
#ifdef SUBGROUPS
  // A subgroup wider than the workgroup holds all of it (and only WG_SIZE lanes exist).
  let lanes = min(sg_size, WG_SIZE);
  let lane = sg_lane;
  let team = lid / lanes;
  let n_team = max(1u, WG_SIZE / lanes);
#else
  let lanes = u32(TEAM);
  let lane = lid % lanes;
  let team = lid / lanes;
  let n_team = u32(WG_SIZE) / lanes;
#endif
  let row0 = (wid.x + wid.y * params.grid_x) * ROWS;
  let k4 = params.k / 4u;
  let upr = params.k / 32u;
  let xb = t * k4;
  var acc: array<f32, SLOTS>;
  for (var c0 = 0u; c0 < k4; c0 += XC) {
    let n = min(XC, k4 - c0);
    workgroupBarrier(); // the previous chunk is consumed
#ifdef VEC16
    // XC and every chunk start are multiples of 4 vec4s (k is a multiple of 32), so chunks hold
    // whole half-units.
    for (var i = lid; i < n; i += WG_SIZE) { xs[(i & 3u) * (XC / 4u) + (i >> 2u)] = X4[xb + c0 + i]; }
    workgroupBarrier();
    // Each lane loads its half-unit's x once and uses it for all of its team's rows.
    for (var v = lane; v < n / 4u; v += lanes) {
      let hu = c0 / 4u + v;
      let x0 = xs[v];
      let x1 = xs[XC / 4u + v];
      let x2 = xs[2u * (XC / 4u) + v];
      let x3 = xs[3u * (XC / 4u) + v];
      for (var s = 0u; s < SLOTS; s++) {
        let r = team + s * n_team;
        if (r < ROWS && row0 + r < params.rows) {
          let m = unit_vec16(0u, row0 + r, hu >> 1u, upr, params.aux, hu & 1u);
          acc[s] += dot(m[0], x0) + dot(m[1], x1) + dot(m[2], x2) + dot(m[3], x3);
        }
      }
    }
#else
    for (var i = lid; i < n; i += WG_SIZE) { xs[i] = X4[xb + c0 + i]; }
    workgroupBarrier();
    // Each lane loads its x vec4 once and uses it for all of its team's rows.
    for (var v = lane; v < n; v += lanes) {
      let g = c0 + v;
      let xv = xs[v];
      for (var s = 0u; s < SLOTS; s++) {
        let r = team + s * n_team;
        if (r < ROWS && row0 + r < params.rows) {
          acc[s] += dot(unit_vec4(0u, row0 + r, g >> 3u, upr, params.aux, g & 7u), xv);
        }
      }
    }
#endif
  }
  for (var s = 0u; s < SLOTS; s++) {
    let r = team + s * n_team;
    let row = row0 + r;
    let valid = r < ROWS && row < params.rows;
#ifdef SUBGROUPS
    let total = subgroupAdd(acc[s]);
    if (lane == 0u && valid) { write_out(row, 0u, total); }
#else
    red[lid] = acc[s];
    workgroupBarrier();
    for (var off = lanes / 2u; off > 0u; off >>= 1u) {
      if (lane < off) { red[lid] += red[lid + off]; }
      workgroupBarrier();
    }
    if (lane == 0u && valid) { write_out(row, 0u, red[lid]); }
    workgroupBarrier();
#endif
  }
}
