/**
 * Gemma 2: sandwich norms (pre and post around attention and FFN), GELU, √n_embd embedding scale,
 * attention and final logit soft-caps, and sliding-window attention on even layers (llama.cpp's
 * swa pattern 2, window 4096 unless the file says otherwise), sliding layers on the same RoPE.
 */
import { gemmaAttnScale, swaPattern, type ArchSpec } from './types.ts';

export const gemma2: ArchSpec = {
  name: 'gemma2',
  norms: { preAttn: true, postAttn: true, preFfn: true, postFfn: true, qk: false },
  qkvBias: 'optional',
  ropeNeox: true,
  ropeFactors: false,
  activation: 'gelu-tanh',
  embedScaleSqrt: true,
  softcaps: { attn: 'attn_logit_softcapping', final: 'final_logit_softcapping' },
  swa: (m, h) => ({
    window: m.num('attention.sliding_window', 4096),
    isSwa: swaPattern(m, h.nLayer, 2),
    localBase: m.num('rope.freq_base_swa', h.ropeBase),
    localScale: h.freqScaleTrain,
  }),
  attnScale: gemmaAttnScale(46),
};
