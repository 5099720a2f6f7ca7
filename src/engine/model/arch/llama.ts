/** Llama (1–3, and the many models that reuse its graph): pre-norms, SwiGLU, adjacent-pair RoPE. */
import { PLAIN_NORMS, type ArchSpec } from './types.ts';

export const llama: ArchSpec = {
  name: 'llama',
  norms: PLAIN_NORMS,
  qkvBias: 'optional',
  ropeNeox: false,
  // Llama 3.1+ long-context scaling arrives as rope_freqs.weight.
  ropeFactors: true,
  activation: 'silu',
  embedScaleSqrt: false,
  softcaps: {},
};
