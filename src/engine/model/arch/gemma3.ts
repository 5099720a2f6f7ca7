/**
 * Gemma 3 (text): Gemma 2's sandwich norms, GELU and embedding scale, plus per-head q/k norms; no
 * attention soft-cap (a final one only if the file has it). Five sliding-window layers then one
 * global (swa pattern 6) when `attention.sliding_window` is set; sliding layers rotate with their
 * own base (`rope.freq_base_swa`, default 10000) and no frequency scaling, global layers with
 * `rope.freq_base` and the file's scaling (as llama.cpp's gemma3.cpp).
 */
import { gemmaAttnScale, swaPattern, type ArchSpec } from './types.ts';

export const gemma3: ArchSpec = {
  name: 'gemma3',
  norms: { preAttn: true, postAttn: true, preFfn: true, postFfn: true, qk: true },
  qkvBias: 'optional',
  ropeNeox: true,
  ropeFactors: false,
  activation: 'gelu-tanh',
  embedScaleSqrt: true,
  softcaps: { final: 'final_logit_softcapping' },
  swa: (m, h) => {
    const window = m.num('attention.sliding_window', 0);
    if (!(window > 0)) return undefined;
    return {
      window,
      isSwa: swaPattern(m, h.nLayer, 6),
      localBase: m.num('rope.freq_base_swa', 10000),
      localScale: 1,
    };
  },
  attnScale: gemmaAttnScale(62),
};
