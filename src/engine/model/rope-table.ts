/**
 * cos/sin of every (position, rotation pair) for RoPE, computed once per model on the CPU, as
 * llama.cpp's CPU ggml_rope_ext does: theta_extrap = pos · base^(−2i/n_rot) / factor_i (the
 * optional per-pair `rope_freqs.weight`, Llama-3 long-context scaling), theta_interp =
 * freq_scale · theta_extrap, and with YaRN (ext_factor ≠ 0) a ramp between the two over the
 * correction dims plus a magnitude scale; cos and sin are multiplied by attn_factor (mscale).
 * The powers are accumulated in f32 as llama.cpp does, so both round the same way.
 */
import { ropeVariants, type ModelConfig } from './config.ts';

/** ggml_rope_ext's parameters for one layer (see rope-scaling.ts for where they come from). */
export interface RopeParams {
  freqBase: number;
  freqScale: number;
  /** YaRN mix (0 = plain linear interpolation). */
  extFactor: number;
  /** mscale applied to cos and sin. */
  attnFactor: number;
  betaFast: number;
  betaSlow: number;
  /** The context the model was trained with before scaling (n_ctx_orig_yarn). */
  nCtxOrig: number;
}

export const PLAIN_ROPE: Omit<RopeParams, 'freqBase'> = {
  freqScale: 1,
  extFactor: 0,
  attnFactor: 1,
  betaFast: 32,
  betaSlow: 1,
  nCtxOrig: 0,
};

const f = Math.fround;

/** ggml_rope_yarn_corr_dims: the pair indices between which YaRN ramps from extrapolation to interpolation. */
export function yarnCorrDims(nRot: number, p: RopeParams): [number, number] {
  const dim = (beta: number) =>
    f((nRot * f(Math.log(f(p.nCtxOrig / f(beta * 2 * f(Math.PI)))))) / f(2 * f(Math.log(p.freqBase))));
  const start = Math.floor(dim(p.betaFast));
  const end = Math.ceil(dim(p.betaSlow));
  return [Math.max(0, start), Math.min(nRot - 1, end)];
}

/** cos·mscale and sin·mscale of (position, pair), as a flat [positions][nRot/2][2] table. */
export function ropeTable(
  o: { positions: number; nRot: number; factors?: Float32Array } & Partial<RopeParams> & {
      freqBase: number;
    },
): Float32Array<ArrayBuffer> {
  const p: RopeParams = { ...PLAIN_ROPE, ...o };
  const half = o.nRot / 2;
  const out = new Float32Array(o.positions * half * 2);
  const thetaScale = f(Math.pow(p.freqBase, -2 / o.nRot));
  const [low, high] = p.extFactor !== 0 ? yarnCorrDims(o.nRot, p) : [0, 0];
  let mscale = f(p.attnFactor);
  if (p.extFactor !== 0) mscale = f(mscale * f(1 + f(0.1 * f(Math.log(f(1 / p.freqScale))))));
  for (let pos = 0; pos < o.positions; pos++) {
    let thetaBase = f(pos);
    for (let i = 0; i < half; i++) {
      const factor = o.factors ? (o.factors[i] as number) : 1;
      const extrap = f(thetaBase / factor);
      const interp = f(p.freqScale * extrap);
      let theta = interp;
      if (p.extFactor !== 0) {
        const y = f(f(i - low) / Math.max(0.001, f(high - low)));
        const rampMix = f(f(1 - Math.min(1, Math.max(0, y))) * p.extFactor);
        theta = f(f(interp * f(1 - rampMix)) + f(extrap * rampMix));
      }
      out[(pos * half + i) * 2] = Math.cos(theta) * mscale;
      out[(pos * half + i) * 2 + 1] = Math.sin(theta) * mscale;
      thetaBase = f(thetaBase * thetaScale);
    }
  }
  return out;
}

/** A table that leaves q and k as they are (cos 1, sin 0): layers that do not rotate. */
export function identityRopeTable(positions: number, nRot: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(positions * nRot);
  for (let i = 0; i < out.length; i += 2) out[i] = 1;
  return out;
}

/**
 * The cos/sin tables one model needs, one per distinct layer RoPE (`ropeVariants`; an identity table
 * for layers without RoPE), and which table each layer reads: what the forward pass and the trainer
 * upload.
 */
export function layerRopeTables(
  cfg: ModelConfig,
  positions: number,
  factors?: Float32Array,
): { tables: Float32Array<ArrayBuffer>[]; ofLayer: number[] } {
  const { variants, ofLayer } = ropeVariants(cfg);
  const tables = variants.map((rope) =>
    rope
      ? ropeTable({ positions, nRot: cfg.nRot, ...rope, ...(factors ? { factors } : {}) })
      : identityRopeTable(positions, cfg.nRot),
  );
  return { tables, ofLayer };
}
