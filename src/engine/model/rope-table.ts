/**
 * cos/sin of every (position, rotation pair) for RoPE, computed once per model on the CPU.
 * theta follows llama.cpp's CPU rope (ext_factor 0): theta_i = pos · freq_scale · base^(−2i/n_rot),
 * divided by the optional per-pair factor (`rope_freqs.weight`, Llama-3 long-context scaling).
 * The powers are accumulated in f32 as llama.cpp does, so both round the same way.
 */
export function ropeTable(o: {
  positions: number;
  nRot: number;
  freqBase: number;
  freqScale: number;
  factors?: Float32Array;
}): Float32Array<ArrayBuffer> {
  const half = o.nRot / 2;
  const out = new Float32Array(o.positions * half * 2);
  const f = Math.fround;
  const thetaScale = f(Math.pow(o.freqBase, -2 / o.nRot));
  for (let p = 0; p < o.positions; p++) {
    let thetaBase = f(p);
    for (let i = 0; i < half; i++) {
      const factor = o.factors ? (o.factors[i] as number) : 1;
      const theta = f(f(o.freqScale * f(thetaBase / factor)));
      out[(p * half + i) * 2] = Math.cos(theta);
      out[(p * half + i) * 2 + 1] = Math.sin(theta);
      thetaBase = f(thetaBase * thetaScale);
    }
  }
  return out;
}
