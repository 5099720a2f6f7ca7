// What every weight-product kernel (matmul.wgsl, gemv.wgsl, matmul-tiled.wgsl) shares: its
// parameters, bindings and the epilogue that writes one output (bias, soft-cap, accumulate), so the
// three kernels Ops picks between per step read and write exactly the same way.

struct MatmulParams {
  k: u32,            // row length (elements), a multiple of 32
  rows: u32,         // rows in this weight part
  row_offset: u32,   // first output column of this part (tensors split across bindings)
  aux: u32,          // word offset of repacked scales (see quant.wgsl)
  out_stride: u32,   // elements between tokens in out
  grid_x: u32,       // workgroups along x (row groups spread over x and y; the tiled GEMM's are on x)
  x_row: u32,        // 0: tokens start at row 0; 1: only the batch's last token (logits; not tiled)
  softcap: f32,      // SOFTCAP variant: v = softcap * tanh(v / softcap) (Gemma-2 final logits)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  _pad3: u32,
};

#include "step"

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: MatmulParams;
@group(0) @binding(4) var<uniform> step: Step;
#ifdef VEC16
// The same weight range as W, read 16 bytes at a time (quant.wgsl w16).
@group(0) @binding(5) var<storage, read> W4: array<vec4<u32>>;
#ifdef BIAS
@group(0) @binding(6) var<storage, read> bias: array<f32>;
#endif
#else
#ifdef BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;
#endif
#endif

fn write_out(row: u32, t: u32, total: f32) {
  let o = t * params.out_stride + params.row_offset + row;
  var v = total;
#ifdef BIAS
  v += bias[params.row_offset + row];
#endif
#ifdef SOFTCAP
  v = params.softcap * tanh(v / params.softcap);
#endif
#ifdef ACCUMULATE
  out[o] = out[o] + v;
#else
  out[o] = v;
#endif
}
