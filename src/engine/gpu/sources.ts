/**
 * WGSL sources, one file per kernel family under `wgsl/`, plus the snippets they `#include`.
 * Imported as text (`?raw`): Vite does this for the browser and vitest, and
 * `scripts/raw-loader.mjs` does it for Node (CLI, bench).
 */
import activation from '../../../wgsl/activation.wgsl?raw';
import activationBackward from '../../../wgsl/activation-backward.wgsl?raw';
import attentionBackward from '../../../wgsl/attention-backward.wgsl?raw';
import attention from '../../../wgsl/attention.wgsl?raw';
import copy from '../../../wgsl/copy.wgsl?raw';
import elementwise from '../../../wgsl/elementwise.wgsl?raw';
import embedding from '../../../wgsl/embedding.wgsl?raw';
import gatedAct from '../../../wgsl/gated-act.wgsl?raw';
import gemm from '../../../wgsl/gemm.wgsl?raw';
import gemv from '../../../wgsl/gemv.wgsl?raw';
import glu from '../../../wgsl/glu.wgsl?raw';
import loss from '../../../wgsl/loss.wgsl?raw';
import lora from '../../../wgsl/lora.wgsl?raw';
import matmul from '../../../wgsl/matmul.wgsl?raw';
import matmulIo from '../../../wgsl/matmul-io.wgsl?raw';
import matmulBackward from '../../../wgsl/matmul-backward.wgsl?raw';
import matmulTiled from '../../../wgsl/matmul-tiled.wgsl?raw';
import matvec from '../../../wgsl/matvec.wgsl?raw';
import norm from '../../../wgsl/norm.wgsl?raw';
import normBackward from '../../../wgsl/norm-backward.wgsl?raw';
import optimizer from '../../../wgsl/optimizer.wgsl?raw';
import qkv from '../../../wgsl/qkv.wgsl?raw';
import quant from '../../../wgsl/quant.wgsl?raw';
import reduce from '../../../wgsl/reduce.wgsl?raw';
import rope from '../../../wgsl/rope.wgsl?raw';
import ropeDim from '../../../wgsl/rope-dim.wgsl?raw';
import ropeBackward from '../../../wgsl/rope-backward.wgsl?raw';
import sampling from '../../../wgsl/sampling.wgsl?raw';
import step from '../../../wgsl/step.wgsl?raw';
import qBf16 from '../../../wgsl/quant/bf16.wgsl?raw';
import qF16 from '../../../wgsl/quant/f16.wgsl?raw';
import qF32 from '../../../wgsl/quant/f32.wgsl?raw';
import qQ4_0 from '../../../wgsl/quant/q4_0.wgsl?raw';
import qQ4_1 from '../../../wgsl/quant/q4_1.wgsl?raw';
import qQ4_K from '../../../wgsl/quant/q4_k.wgsl?raw';
import qQ5_0 from '../../../wgsl/quant/q5_0.wgsl?raw';
import qQ5_1 from '../../../wgsl/quant/q5_1.wgsl?raw';
import qQ5_K from '../../../wgsl/quant/q5_k.wgsl?raw';
import qQ6_K from '../../../wgsl/quant/q6_k.wgsl?raw';
import qQ8_0 from '../../../wgsl/quant/q8_0.wgsl?raw';
import qQ2_K from '../../../wgsl/quant/q2_k.wgsl?raw';
import qQ3_K from '../../../wgsl/quant/q3_k.wgsl?raw';
import qIQ4_NL from '../../../wgsl/quant/iq4_nl.wgsl?raw';
import qIQ4_XS from '../../../wgsl/quant/iq4_xs.wgsl?raw';
import iq4Levels from '../../../wgsl/quant/iq4-levels.wgsl?raw';
import kScaleMin from '../../../wgsl/quant/k-scale-min.wgsl?raw';

export const kernelFamilies = {
  activation,
  activationBackward,
  attention,
  attentionBackward,
  copy,
  elementwise,
  embedding,
  gemm,
  gemv,
  glu,
  loss,
  lora,
  matmul,
  matmulBackward,
  matmulTiled,
  norm,
  normBackward,
  optimizer,
  qkv,
  rope,
  ropeBackward,
  sampling,
} as const;
export type KernelFamily = keyof typeof kernelFamilies;

/** Snippets that families may `#include`. */
export const wgslIncludes: Readonly<Record<string, string>> = {
  'gated-act': gatedAct,
  // The IQ4_NL levels, shared by the iq4_nl and iq4_xs snippets.
  'iq4-levels': iq4Levels,
  // Q4_K/Q5_K's packed 6-bit sub-block scales and mins, shared by the q4_k and q5_k snippets.
  'k-scale-min': kScaleMin,
  // Parameters, bindings and output epilogue of the three weight-product kernels.
  'matmul-io': matmulIo,
  matvec,
  quant,
  reduce,
  'rope-dim': ropeDim,
  step,
};

/**
 * One decoder snippet per quant type, `wgsl/quant/<name>.wgsl`, keyed by the `snippet` of the type's
 * registry row (gguf/quant/traits.ts); the kernel library supplies it as the include "quant-type".
 */
export const quantSnippets: Readonly<Record<string, string>> = {
  bf16: qBf16,
  f16: qF16,
  f32: qF32,
  q4_0: qQ4_0,
  q4_1: qQ4_1,
  q4_k: qQ4_K,
  q5_0: qQ5_0,
  q5_1: qQ5_1,
  q5_k: qQ5_K,
  q6_k: qQ6_K,
  q8_0: qQ8_0,
  q2_k: qQ2_K,
  q3_k: qQ3_K,
  iq4_nl: qIQ4_NL,
  iq4_xs: qIQ4_XS,
};
