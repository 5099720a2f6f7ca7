/** EXAONE 3.x: Llama's block with NEOX RoPE (GGUF tensor names are Llama's). */
import { PLAIN_NORMS, type ArchSpec } from './types.ts';

export const exaone: ArchSpec = {
  name: 'exaone',
  norms: PLAIN_NORMS,
  qkvBias: 'optional',
  ropeNeox: true,
  ropeFactors: true,
  activation: 'silu',
  embedScaleSqrt: false,
  softcaps: {},
};
