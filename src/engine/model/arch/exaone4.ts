/**
 * EXAONE 4.0: no pre-norms — post-attention and post-FFN norms only — per-head q/k norms, SwiGLU,
 * NEOX RoPE. As llama.cpp's exaone4.cpp, sliding windows exist only for the 64-layer (32B) model:
 * window `attention.sliding_window` (default 4096), pattern 4 (three sliding, one global), and then
 * only the sliding layers rotate q and k. The 1.2B model (30 layers) is all global, all rotated.
 */
import { swaPattern, type ArchSpec } from './types.ts';

export const exaone4: ArchSpec = {
  name: 'exaone4',
  norms: { preAttn: false, postAttn: true, preFfn: false, postFfn: true, qk: true },
  qkvBias: 'optional',
  ropeNeox: true,
  ropeFactors: true,
  activation: 'silu',
  embedScaleSqrt: false,
  softcaps: {},
  swa: (m, h) => {
    if (h.nLayer !== 64) return undefined;
    return {
      window: m.num('attention.sliding_window', 4096),
      isSwa: swaPattern(m, h.nLayer, 4),
      localBase: m.num('rope.freq_base_swa', h.ropeBase),
      localScale: h.freqScaleTrain,
    };
  },
  ropeOnlySwa: true,
};
