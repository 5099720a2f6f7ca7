/**
 * Aggregation maths as pure functions over Float32Arrays (after Flower's `aggregate*` helpers).
 * Each works on one slice of coordinates so callers can stream an adapter chunk by chunk:
 * memory is O(chunk × clients) for the robust rules, O(one adapter) overall.
 * Sums are accumulated in float64 so the result does not depend on client order beyond
 * float32 rounding of the final value.
 */

/** out[i] = Σ wₖ·xₖ[i] / Σ wₖ. */
export function weightedMeanInto(
  out: Float32Array,
  slices: ReadonlyArray<Float32Array>,
  weights: ReadonlyArray<number>,
): void {
  const total = weights.reduce((a, w) => a + w, 0);
  if (!(total > 0)) throw new RangeError('weights must sum to a positive number');
  const acc = new Float64Array(out.length);
  slices.forEach((x, k) => {
    const w = weights[k]! / total;
    for (let i = 0; i < acc.length; i++) acc[i]! += w * x[i]!;
  });
  out.set(acc);
}

/** Coordinate-wise median (mean of the two middle values for an even count). */
export function coordinateMedianInto(out: Float32Array, slices: ReadonlyArray<Float32Array>): void {
  const n = slices.length;
  if (n === 0) throw new RangeError('median of no values');
  const col = new Float64Array(n);
  for (let i = 0; i < out.length; i++) {
    for (let k = 0; k < n; k++) col[k] = slices[k]![i]!;
    col.sort();
    out[i] = n % 2 ? col[(n - 1) / 2]! : (col[n / 2 - 1]! + col[n / 2]!) / 2;
  }
}

/**
 * Coordinate-wise trimmed mean: drops the ⌊β·n⌋ smallest and largest values per coordinate and
 * averages the rest (Yin et al., 2018), so up to ⌊β·n⌋ poisoned clients cannot move a
 * coordinate outside the range of the honest ones.
 */
export function trimmedMeanInto(
  out: Float32Array,
  slices: ReadonlyArray<Float32Array>,
  trimFraction: number,
): void {
  const n = slices.length;
  const k = Math.floor(trimFraction * n);
  if (n - 2 * k < 1) throw new RangeError(`trimming ${k} of ${n} values from each end leaves none`);
  const col = new Float64Array(n);
  for (let i = 0; i < out.length; i++) {
    for (let j = 0; j < n; j++) col[j] = slices[j]![i]!;
    col.sort();
    let s = 0;
    for (let j = k; j < n - k; j++) s += col[j]!;
    out[i] = s / (n - 2 * k);
  }
}

export interface AdaptiveOptions {
  eta: number;
  beta1: number;
  beta2: number;
  tau: number;
}

/**
 * One FedAdam / FedYogi server step (Reddi et al., 2021, Algorithm 2) in place over a slice:
 * Δ = mean − x; m ← β₁m + (1−β₁)Δ; v ← Adam: β₂v + (1−β₂)Δ², Yogi: v − (1−β₂)Δ²·sign(v − Δ²);
 * x ← x + η·m / (√v + τ). `x` holds the global on entry and the new global on return.
 */
export function adaptiveStepInto(
  kind: 'adam' | 'yogi',
  x: Float32Array,
  mean: Float32Array,
  m: Float32Array,
  v: Float32Array,
  o: AdaptiveOptions,
): void {
  for (let i = 0; i < x.length; i++) {
    const d = mean[i]! - x[i]!;
    const d2 = d * d;
    const mi = o.beta1 * m[i]! + (1 - o.beta1) * d;
    const vi =
      kind === 'adam'
        ? o.beta2 * v[i]! + (1 - o.beta2) * d2
        : v[i]! - (1 - o.beta2) * d2 * Math.sign(v[i]! - d2);
    m[i] = mi;
    v[i] = vi;
    x[i] = x[i]! + (o.eta * mi) / (Math.sqrt(vi) + o.tau);
  }
}

/** Σ (a − b)² over a slice, in float64 (for update norms). */
export function squaredDistance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return s;
}
