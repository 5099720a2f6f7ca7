/** Statistics the secure-aggregation tests use to tell a masked upload from its plaintext. */

/** Chi-square statistic of the top byte of uint32 words over 256 equal bins (255 degrees of freedom). */
export function chiSquareTopByte(words: Uint32Array): number {
  const bins = new Float64Array(256);
  for (const w of words) bins[w >>> 24]!++;
  const e = words.length / 256;
  return bins.reduce((a, o) => a + ((o - e) * (o - e)) / e, 0);
}

/** Pearson correlation of two equally long sequences. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}
