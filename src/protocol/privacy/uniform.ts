/**
 * Uniform doubles in [0, 1) from `crypto.getRandomValues` only (browser and Node alike): the one
 * source of randomness for privacy noise. Each double carries 53 random bits, the full precision a
 * double in [0, 1) can hold, so samplers built on it are exact up to floating-point rounding.
 */

// getRandomValues fills at most 65,536 bytes per call; refilling in large blocks keeps the cost
// per double close to the generator's raw throughput.
const BLOCK_WORDS = 16_384;
const TWO_POW_26 = 67_108_864;
const TWO_POW_MINUS_53 = 1 / 9_007_199_254_740_992;

/** A buffered stream of cryptographically random 53-bit doubles. */
export class CryptoUniform {
  private readonly words = new Uint32Array(BLOCK_WORDS);
  private next = BLOCK_WORDS;

  /** A double drawn uniformly from the 2^53 multiples of 2^-53 in [0, 1). */
  uniform(): number {
    if (this.next + 2 > BLOCK_WORDS) {
      crypto.getRandomValues(this.words);
      this.next = 0;
    }
    const hi = this.words[this.next]! >>> 5; // 27 bits
    const lo = this.words[this.next + 1]! >>> 6; // 26 bits
    this.next += 2;
    return (hi * TWO_POW_26 + lo) * TWO_POW_MINUS_53;
  }
}
