/** Qwen2 / Qwen2.5: Llama's block with q/k/v biases and NEOX RoPE. */
import { PLAIN_NORMS, type ArchSpec } from './types.ts';

export const qwen2: ArchSpec = {
  name: 'qwen2',
  norms: PLAIN_NORMS,
  qkvBias: 'required',
  ropeNeox: true,
  ropeFactors: false,
  activation: 'silu',
  embedScaleSqrt: false,
  softcaps: {},
};
