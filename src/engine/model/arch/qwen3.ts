/** Qwen3: no biases; per-head q/k RMSNorm before RoPE. */
import { PLAIN_NORMS, type ArchSpec } from './types.ts';

export const qwen3: ArchSpec = {
  name: 'qwen3',
  norms: { ...PLAIN_NORMS, qk: true },
  qkvBias: 'optional',
  ropeNeox: true,
  ropeFactors: false,
  activation: 'silu',
  embedScaleSqrt: false,
  softcaps: {},
};
