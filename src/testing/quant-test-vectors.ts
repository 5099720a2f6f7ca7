/**
 * Deterministic inputs for quantizer tests: blocks of very different character (Gaussian, tiny,
 * one-signed, large, sparse, all-zero, on a coarse grid, subnormal-scale) so every branch of the
 * reference quantizers runs. The golden hashes in quant.test.ts were produced by feeding exactly
 * these values to llama.cpp's own `quantize_row_*_ref` (libggml-base from node-llama-cpp).
 */

/** A small linear congruential generator: same numbers on every platform. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/** `n` values (a multiple of 256) whose 256-blocks cycle through eight distributions. */
export function quantTestVector(n: number, seed = 12345): Float32Array {
  const rnd = lcg(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
    switch (Math.floor(i / 256) % 8) {
      case 0:
        x[i] = g;
        break;
      case 1:
        x[i] = g * 1e-3;
        break;
      case 2:
        x[i] = Math.abs(g);
        break;
      case 3:
        x[i] = -Math.abs(g) * 50;
        break;
      case 4:
        x[i] = i % 7 === 0 ? 0 : g;
        break;
      case 5:
        x[i] = 0;
        break;
      case 6:
        x[i] = Math.round(g * 4) / 4;
        break;
      default:
        x[i] = g * 1e-6;
    }
  }
  return x;
}
