/**
 * A data-derived start for the demo model's embedding and output matrices, which LoRA cannot train
 * (it adapts only the seven projection modules). From a random embedding and output the adapters
 * would have to learn a 4096-way lookup through fixed random codes; instead the two matrices come
 * from a truncated SVD of the training set's smoothed bigram log-probability matrix
 * (log P(next | token), rows centred), so that with silent blocks the model *is* a rank-k bigram
 * model, and LoRA training adds context on top. Closed-form linear algebra, no gradient steps.
 *
 * With RMSNorm before the output, logits are output · (g ⊙ x/rms(x)); one spare embedding
 * dimension pads every row to the same norm, so rms(x) is one constant and the factorisation
 * survives the norm exactly.
 */
import type { TrainExample } from '../../src/training/api.ts';
import { gaussian } from './model.ts';

/**
 * Smoothed, row-centred log P(j | i) over the masked bigrams of `examples` (row-major nVocab²).
 * `beta` is the Dirichlet prior's weight: on the corpus set (128-token chunks) β = 2 / 20 / 200 gave
 * full-rank validation perplexity 250 / 171 / 204 and rank-255 perplexity 585 / 412 / 465
 * (unigram: 1283), hence 20.
 */
export function bigramLogMatrix(examples: readonly TrainExample[], nVocab: number, beta = 20): Float32Array {
  const counts = new Float32Array(nVocab * nVocab);
  const rowTotal = new Float64Array(nVocab);
  const uni = new Float64Array(nVocab).fill(0.5);
  let uniTotal = 0.5 * nVocab;
  for (const e of examples) {
    for (let t = 1; t < e.ids.length; t++) {
      if (!e.lossMask[t]) continue;
      const i = e.ids[t - 1]!;
      const j = e.ids[t]!;
      counts[i * nVocab + j]! += 1;
      rowTotal[i]! += 1;
      uni[j]! += 1;
      uniTotal += 1;
    }
  }
  for (let i = 0; i < nVocab; i++) {
    const row = counts.subarray(i * nVocab, (i + 1) * nVocab);
    const denom = rowTotal[i]! + beta;
    let mean = 0;
    for (let j = 0; j < nVocab; j++) {
      // Dirichlet smoothing towards the unigram: unseen pairs fall back to word frequency.
      const v = Math.log((row[j]! + (beta * uni[j]!) / uniTotal) / denom);
      row[j] = v;
      mean += v;
    }
    mean /= nVocab;
    for (let j = 0; j < nVocab; j++) row[j] = row[j]! - mean;
  }
  return counts;
}

/** C (m×l) = A (m×n) · B (n×l), all row-major. */
function matmul(a: Float64Array, b: Float64Array, m: number, n: number, l: number): Float64Array {
  const c = new Float64Array(m * l);
  for (let i = 0; i < m; i++) {
    const ci = i * l;
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      const bk = k * l;
      for (let j = 0; j < l; j++) c[ci + j]! += aik * b[bk + j]!;
    }
  }
  return c;
}

/** Aᵀ (n×m) of a row-major m×n matrix. */
function transpose(a: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
  return t;
}

/** Orthonormalises the l columns of a row-major m×l matrix in place (modified Gram–Schmidt, twice). */
function orthonormalColumns(y: Float64Array, m: number, l: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let c = 0; c < l; c++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += y[i * l + c]! * y[i * l + p]!;
        for (let i = 0; i < m; i++) y[i * l + c]! -= dot * y[i * l + p]!;
      }
      let norm = 0;
      for (let i = 0; i < m; i++) norm += y[i * l + c]! ** 2;
      norm = Math.sqrt(norm) || 1;
      for (let i = 0; i < m; i++) y[i * l + c]! /= norm;
    }
  }
}

/** Eigen-decomposition of a symmetric n×n matrix (cyclic Jacobi): values and column eigenvectors. */
function symmetricEigen(s: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(s);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - sn * akq;
          a[k * n + q] = sn * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - sn * aqk;
          a[q * n + k] = sn * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - sn * vkq;
          v[k * n + q] = sn * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i]!;
  return { values, vectors: v };
}

/**
 * Rank-k truncated SVD of a row-major n×n float32 matrix by randomized subspace iteration
 * (Halko, Martinsson & Tropp 2011): M ≈ U·diag(S)·Vᵀ with U, V as row-major n×k.
 */
export function truncatedSvd(
  m: Float32Array,
  n: number,
  k: number,
  opts: { oversample?: number; powerIterations?: number; seed?: number } = {},
): { u: Float64Array; s: Float64Array; v: Float64Array } {
  const l = Math.min(n, k + (opts.oversample ?? 12));
  const mm = Float64Array.from(m);
  const mt = transpose(mm, n, n);
  let y = matmul(mm, Float64Array.from(gaussian(n * l, 1, opts.seed ?? 7)), n, n, l);
  orthonormalColumns(y, n, l);
  for (let it = 0; it < (opts.powerIterations ?? 2); it++) {
    const z = matmul(mt, y, n, n, l);
    orthonormalColumns(z, n, l);
    y = matmul(mm, z, n, n, l);
    orthonormalColumns(y, n, l);
  }
  const q = y; // n×l, orthonormal columns
  const b = matmul(transpose(q, n, l), mm, l, n, n); // l×n
  const bbt = matmul(b, transpose(b, l, n), l, n, l);
  const { values, vectors } = symmetricEigen(bbt, l);
  const order = [...values.keys()].sort((x, z) => values[z]! - values[x]!).slice(0, k);
  const s = new Float64Array(k);
  const w = new Float64Array(l * k);
  order.forEach((src, c) => {
    s[c] = Math.sqrt(Math.max(values[src]!, 0));
    for (let r = 0; r < l; r++) w[r * k + c] = vectors[r * l + src]!;
  });
  const u = matmul(q, w, n, l, k);
  // V = Bᵀ W / σ
  const v = matmul(transpose(b, l, n), w, n, l, k);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < k; c++) v[i * k + c] = s[c]! > 0 ? v[i * k + c]! / s[c]! : 0;
  return { u, s, v };
}

/**
 * Embedding and output matrices (row-major nVocab × nEmbd, i.e. ggml [nEmbd, nVocab]) such that
 * output · rmsnorm(embd[i]) (norm weight 1) equals the rank-(nEmbd−1) approximation of `logM`'s row i.
 * `residualRms` sets the RMS of every embedding row (the residual stream's scale).
 */
export function spectralEmbeddings(
  svd: { u: Float64Array; s: Float64Array; v: Float64Array },
  nVocab: number,
  nEmbd: number,
  residualRms = 1,
): { embd: Float32Array; output: Float32Array } {
  const k = svd.s.length;
  if (k > nEmbd - 1) throw new RangeError(`rank ${k} needs at most nEmbd − 1 = ${nEmbd - 1}`);
  const x = new Float64Array(nVocab * nEmbd);
  let maxNorm = 0;
  for (let i = 0; i < nVocab; i++) {
    let norm = 0;
    for (let c = 0; c < k; c++) {
      const val = svd.u[i * k + c]! * Math.sqrt(svd.s[c]!);
      x[i * nEmbd + c] = val;
      norm += val * val;
    }
    maxNorm = Math.max(maxNorm, norm);
  }
  const radius = Math.sqrt(maxNorm) * 1.0001;
  // Pad every row to norm `radius` in the last dimension, so rms(x_i) = radius/√d for all i.
  for (let i = 0; i < nVocab; i++) {
    let norm = 0;
    for (let c = 0; c < k; c++) norm += x[i * nEmbd + c]! ** 2;
    x[i * nEmbd + nEmbd - 1] = Math.sqrt(Math.max(radius * radius - norm, 0));
  }
  const rms = radius / Math.sqrt(nEmbd);
  const embd = new Float32Array(nVocab * nEmbd);
  for (let i = 0; i < embd.length; i++) embd[i] = (x[i]! / rms) * residualRms;
  // logits_j = out_j · x_i / rms  ⇒  out_j = y_j · rms, with y_j = V_j √S (pad dimension 0).
  const output = new Float32Array(nVocab * nEmbd);
  for (let j = 0; j < nVocab; j++) {
    for (let c = 0; c < k; c++) output[j * nEmbd + c] = svd.v[j * k + c]! * Math.sqrt(svd.s[c]!) * rms;
  }
  return { embd, output };
}
