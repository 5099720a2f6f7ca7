/**
 * `<arch>.rope.scaling.*` metadata → ggml_rope_ext's parameters, exactly as llama.cpp derives them
 * (llama-model.cpp load_hparams, llama-context.cpp): the type defaults to linear; a factor f gives
 * freq_scale 1/f for linear and yarn alike ('none' forces 1); YaRN adds ext_factor 1, β 32/1, the
 * original context (`rope.scaling.original_context_length`, default `context_length`) and an
 * attn_factor that, together with ggml's own mscale, leaves cos and sin scaled by 1 + 0.1·ln f;
 * `rope.scaling.attn_factor` multiplies in for every type. Types llama.cpp applies some other way
 * (longrope's per-context factor tensors) or does not know are refused, never silently ignored.
 */
import { UnsupportedRopeScalingError } from '../../protocol/errors.ts';
import type { RopeParams } from './rope-table.ts';
export { UnsupportedRopeScalingError };

export const ROPE_SCALING_TYPES = ['none', 'linear', 'yarn'] as const;
export type RopeScalingType = (typeof ROPE_SCALING_TYPES)[number];

export interface RopeScaling extends Omit<RopeParams, 'freqBase'> {
  type: RopeScalingType;
  /** 1 / rope.scaling.factor, before 'none' forces 1 (llama.cpp's rope_freq_scale_train). */
  freqScaleTrain: number;
}

/**
 * @param get reads `<arch>.<key>` (undefined when absent).
 * @throws {UnsupportedRopeScalingError} for longrope and unknown types.
 */
export function ropeScaling(get: (key: string) => unknown, contextLength: number): RopeScaling {
  const raw = get('rope.scaling.type') ?? 'linear';
  const type = String(raw);
  if (!(ROPE_SCALING_TYPES as readonly string[]).includes(type)) {
    throw new UnsupportedRopeScalingError(
      `RoPE scaling type "${type}" is not supported (supported: ${ROPE_SCALING_TYPES.join(', ')})`,
    );
  }
  const n = (key: string, fallback: number): number => {
    const v = get(key);
    return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : fallback;
  };
  const f = Math.fround;
  // The old key name (`rope.scale_linear`) is read when the new one is absent, as llama.cpp does.
  const factor = f(n('rope.scaling.factor', n('rope.scale_linear', 0)));
  const freqScaleTrain = factor === 0 ? 1 : f(1 / factor);
  const freqScale = type === 'none' ? 1 : freqScaleTrain;
  const extFactor = type === 'yarn' ? 1 : 0;
  let attnFactor = 1;
  if (extFactor !== 0) {
    const s = f(1 / freqScale);
    const mscale = s <= 1 ? 1 : f(f(0.1 * f(Math.log(s))) + 1);
    // llama.cpp cancels the 1 + 0.1·ln(s) ggml_rope_ext multiplies in when ext_factor ≠ 0.
    attnFactor = f(mscale * f(1 / f(1 + f(0.1 * f(Math.log(s))))));
  }
  attnFactor = f(attnFactor * f(n('rope.scaling.attn_factor', 1)));
  return {
    type: type as RopeScalingType,
    freqScaleTrain,
    freqScale,
    extFactor,
    attnFactor,
    betaFast: 32,
    betaSlow: 1,
    nCtxOrig: n('rope.scaling.original_context_length', contextLength),
  };
}
