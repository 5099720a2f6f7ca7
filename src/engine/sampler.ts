/**
 * CPU sampling over one position's logits, for non-greedy decoding (greedy runs on the GPU).
 * Order as llama.cpp's common chain: repetition penalty → top-k → top-p → min-p → temperature →
 * draw. A seed makes draws reproducible.
 */
import type { SamplingOptions } from './api.ts';

export class Sampler {
  readonly #rand: () => number;
  constructor(readonly opts: SamplingOptions) {
    let a = (opts.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
    // mulberry32: small, fast, and good enough for sampling.
    this.#rand = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /**
   * The next number of the draw sequence, for a draw made elsewhere (the GPU token loop): the
   * same sequence `sampleCandidates` consumes, one number per draw.
   */
  nextRandom(): number {
    return this.#rand();
  }

  get greedy(): boolean {
    return !!this.opts.greedy || (this.opts.temperature ?? 0.7) <= 0;
  }

  /** Draws a token id; `recent` are ids the repetition penalty applies to. */
  sample(logits: Float32Array, recent: readonly number[] = []): number {
    const o = this.opts;
    const penalty = o.repetitionPenalty ?? 1;
    const adjusted = penalty !== 1 ? Float32Array.from(logits) : logits;
    if (penalty !== 1) {
      for (const id of new Set(recent)) {
        const v = adjusted[id] as number;
        adjusted[id] = v > 0 ? v / penalty : v * penalty;
      }
    }
    if (this.greedy) return argmax(adjusted);
    // Candidates sorted by logit, cut by top-k first so sorting stays cheap for big vocabularies.
    const k = this.candidateCount ?? adjusted.length;
    const ids = topKIndices(adjusted, k);
    return this.sampleCandidates(
      ids,
      ids.map((i) => adjusted[i] as number),
    );
  }

  /** How many top candidates a draw can need: the top-k setting; undefined = the whole vocabulary. */
  get candidateCount(): number | undefined {
    const k = this.opts.topK ?? 40;
    return k > 0 ? k : undefined;
  }

  /**
   * Draws from candidates already penalised and sorted by logit (descending, lowest id first on
   * ties) — the CPU path's top-k, or the GPU's. Then top-p → min-p → temperature → draw.
   */
  sampleCandidates(ids: readonly number[], logits: readonly number[]): number {
    const o = this.opts;
    let cand = ids.slice();
    const temp = o.temperature ?? 0.7;
    const max = logits[0] as number;
    let probs = logits.map((z) => Math.exp((z - max) / temp));
    let sum = probs.reduce((s, p) => s + p, 0);
    const topP = o.topP ?? 1;
    if (topP < 1) {
      let acc = 0;
      let cut = probs.length;
      for (let i = 0; i < probs.length; i++) {
        acc += (probs[i] as number) / sum;
        if (acc >= topP) {
          cut = i + 1;
          break;
        }
      }
      cand = cand.slice(0, cut);
      probs = probs.slice(0, cut);
    }
    const minP = o.minP ?? 0;
    if (minP > 0) {
      const floor = (probs[0] as number) * minP;
      const keep = probs.map((p) => p >= floor);
      cand = cand.filter((_, i) => keep[i]);
      probs = probs.filter((_, i) => keep[i]);
    }
    sum = probs.reduce((s, p) => s + p, 0);
    let r = this.#rand() * sum;
    for (let i = 0; i < probs.length; i++) {
      r -= probs[i] as number;
      if (r <= 0) return cand[i] as number;
    }
    return cand[cand.length - 1] as number;
  }
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] as number) > (v[best] as number)) best = i;
  return best;
}

function topKIndices(v: Float32Array, k: number): number[] {
  k = Math.min(k, v.length);
  const idx = Array.from({ length: v.length }, (_, i) => i);
  idx.sort((a, b) => (v[b] as number) - (v[a] as number) || a - b);
  return idx.slice(0, k);
}
