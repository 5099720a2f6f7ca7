/**
 * A small learned second opinion for the rule guard: multinomial logistic regression over hashed
 * character n-grams of the compact text (see normalize.ts), trained in a fraction of a second from
 * labelled examples. Rules match only the words someone thought of; n-grams of a few syllables
 * ("몰래", "는법", "싶어") carry over to phrasings nobody wrote a rule for.
 */
import { normalize } from './normalize.ts';

export interface NgramExample {
  text: string;
  /** Class name: 'allow' or a harm category. */
  label: string;
}

export interface NgramModelOptions {
  /** log2 of the hashed feature space. */
  bits?: number;
  epochs?: number;
  learningRate?: number;
  l2?: number;
  seed?: number;
}

/** FNV-1a over UTF-16 code units: a stable, non-cryptographic bucket for a feature string. */
function bucket(s: string, mask: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & mask;
}

export function features(text: string, bits: number): Map<number, number> {
  const mask = (1 << bits) - 1;
  const { compact } = normalize(text);
  const chars = [...compact];
  const out = new Map<number, number>();
  const add = (f: string) => {
    const b = bucket(f, mask);
    out.set(b, (out.get(b) ?? 0) + 1);
  };
  for (let n = 1; n <= 3; n++)
    for (let i = 0; i + n <= chars.length; i++) add(`${n}:${chars.slice(i, i + n).join('')}`);
  // Scale to unit length so long questions do not dominate.
  const norm = Math.sqrt([...out.values()].reduce((a, v) => a + v * v, 0)) || 1;
  for (const [k, v] of out) out.set(k, v / norm);
  return out;
}

export class NgramModel {
  private constructor(
    readonly classes: readonly string[],
    private readonly weights: Float32Array,
    private readonly bias: Float32Array,
    private readonly bits: number,
  ) {}

  static train(examples: readonly NgramExample[], options: NgramModelOptions = {}): NgramModel {
    const bits = options.bits ?? 16;
    const epochs = options.epochs ?? 30;
    const lr = options.learningRate ?? 0.5;
    const l2 = options.l2 ?? 1e-4;
    const classes = [...new Set(examples.map((e) => e.label))].sort();
    const k = classes.length;
    const dim = 1 << bits;
    const weights = new Float32Array(dim * k);
    const bias = new Float32Array(k);
    const data = examples.map((e) => ({ x: features(e.text, bits), y: classes.indexOf(e.label) }));
    let seed = options.seed ?? 1;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const probs = new Float64Array(k);
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = data.map((_, i) => i).sort(() => random() - 0.5);
      const step = lr / (1 + epoch * 0.1);
      for (const i of order) {
        const { x, y } = data[i]!;
        NgramModel.scores(weights, bias, k, x, probs);
        for (let c = 0; c < k; c++) {
          const g = probs[c]! - (c === y ? 1 : 0);
          bias[c] = bias[c]! - step * g;
          for (const [f, v] of x) {
            const w = f * k + c;
            weights[w] = weights[w]! - step * (g * v + l2 * weights[w]!);
          }
        }
      }
    }
    return new NgramModel(classes, weights, bias, bits);
  }

  private static scores(
    weights: Float32Array,
    bias: Float32Array,
    k: number,
    x: Map<number, number>,
    out: Float64Array,
  ): void {
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      let s = bias[c]!;
      for (const [f, v] of x) s += weights[f * k + c]! * v;
      out[c] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let c = 0; c < k; c++) sum += out[c] = Math.exp(out[c]! - max);
    for (let c = 0; c < k; c++) out[c] = out[c]! / sum;
  }

  /** Class probabilities for `text`, in `classes` order. */
  predict(text: string): { label: string; probability: number; probabilities: Float64Array } {
    const probs = new Float64Array(this.classes.length);
    NgramModel.scores(this.weights, this.bias, this.classes.length, features(text, this.bits), probs);
    let best = 0;
    for (let c = 1; c < probs.length; c++) if (probs[c]! > probs[best]!) best = c;
    return { label: this.classes[best]!, probability: probs[best]!, probabilities: probs };
  }
}
