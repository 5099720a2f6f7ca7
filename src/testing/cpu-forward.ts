/**
 * Dure's CPU reference forward pass: float64 arithmetic on dequantized weights, written plainly for
 * clarity and used only by tests, as the exact-arithmetic yardstick for the WGSL engine.
 */
import { dequantize } from '../engine/gguf/quant/index.ts';
import type { GgufFile } from '../engine/gguf/types.ts';
import { modelConfig, type ModelConfig } from '../engine/model/config.ts';
import { yarnCorrDims, type RopeParams } from '../engine/model/rope-table.ts';
import { LORA_MODULES, parsePeftName } from '../engine/lora/adapter.ts';
import type { LoraTensors } from '../training/api.ts';

/** One adapter's term on one weight: y += factor · B·(A·x), A [rank, in], B [out, rank]. */
interface RefLoraTerm {
  a: Float32Array;
  b: Float32Array;
  rank: number;
  factor: number;
}

type Vec = Float64Array;

export class CpuReferenceModel {
  readonly cfg: ModelConfig;
  readonly #t = new Map<string, Float32Array>();
  #kCache: Vec[][] = [];
  #vCache: Vec[][] = [];
  /** LoRA terms by GGUF weight name (`blk.N.attn_q.weight`), applied in float64, unstacked. */
  #lora = new Map<string, RefLoraTerm[]>();

  private constructor(cfg: ModelConfig) {
    this.cfg = cfg;
  }

  static async load(file: GgufFile): Promise<CpuReferenceModel> {
    const m = new CpuReferenceModel(modelConfig(file));
    for (const t of file.tensors) {
      m.#t.set(t.name, dequantize(t.type, await file.source.read(t.offset, t.byteLength), t.elements));
    }
    m.reset();
    return m;
  }

  /**
   * Adds LoRA adapters to every matmul they target (an empty list restores the base model).
   * Written independently of the engine's stacking: each adapter's term is computed on its own.
   */
  setAdapters(adapters: ReadonlyArray<{ lora: LoraTensors; scale?: number }>): void {
    this.#lora = new Map();
    for (const { lora, scale = 1 } of adapters) {
      const factor = (scale * lora.alpha) / lora.rank;
      for (const [name, a] of lora.tensors) {
        const p = parsePeftName(name);
        if (!p) throw new Error(`reference: ${name} is not a PEFT LoRA name`);
        if (p.which !== 'A') continue;
        const b = lora.tensors.get(name.replace('lora_A', 'lora_B'));
        if (!b) throw new Error(`reference: ${name} has no lora_B`);
        const key = `blk.${p.layer}.${LORA_MODULES[p.module].gguf}.weight`;
        const terms = this.#lora.get(key) ?? [];
        terms.push({ a, b, rank: lora.rank, factor });
        this.#lora.set(key, terms);
      }
    }
    this.reset();
  }

  reset(): void {
    this.#kCache = Array.from({ length: this.cfg.nLayer }, () => []);
    this.#vCache = Array.from({ length: this.cfg.nLayer }, () => []);
  }

  #w(name: string): Float32Array {
    const t = this.#t.get(name);
    if (!t) throw new Error(`reference: tensor ${name} missing`);
    return t;
  }

  /** y = W x for W with ggml dims [in, out] (row r = out index). */
  #mat(name: string, x: Vec, out: number): Vec {
    const w = this.#w(name);
    const k = x.length;
    const y = new Float64Array(out);
    for (let r = 0; r < out; r++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += (w[r * k + i] as number) * (x[i] as number);
      y[r] = s;
    }
    for (const t of this.#lora.get(name) ?? []) {
      const mid = new Float64Array(t.rank);
      for (let j = 0; j < t.rank; j++) {
        let s = 0;
        for (let i = 0; i < k; i++) s += (t.a[j * k + i] as number) * (x[i] as number);
        mid[j] = s;
      }
      for (let r = 0; r < out; r++) {
        let s = 0;
        for (let j = 0; j < t.rank; j++) s += (t.b[r * t.rank + j] as number) * (mid[j] as number);
        y[r] = (y[r] as number) + t.factor * s;
      }
    }
    const bias = this.#t.get(name.replace('.weight', '.bias'));
    if (bias) for (let r = 0; r < out; r++) y[r] = (y[r] as number) + (bias[r] as number);
    return y;
  }

  #rmsnorm(x: Vec, name: string, off = 0, n = x.length): Vec {
    const w = this.#w(name);
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (x[off + i] as number) ** 2;
    const inv = 1 / Math.sqrt(ss / n + this.cfg.eps);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = (x[off + i] as number) * inv * (w[i] as number);
    return y;
  }

  /**
   * RoPE with one layer's parameters, written from the formulas (not from the engine's table):
   * θ = pos·base^(−2i/n_rot)/factor_i; YaRN mixes interpolated (θ·freq_scale) and extrapolated θ
   * over llama.cpp's correction dims and scales by attn_factor·(1 + 0.1·ln(1/freq_scale)).
   */
  #rope(v: Vec, nHeads: number, pos: number, r: RopeParams): void {
    const { headDim: hd, nRot, ropeNeox } = this.cfg;
    const factors = this.cfg.ropeFactors ? this.#t.get('rope_freqs.weight') : undefined;
    const [low, high] = r.extFactor ? yarnCorrDims(nRot, r) : [0, 0];
    const mscale = r.attnFactor * (r.extFactor ? 1 + 0.1 * Math.log(1 / r.freqScale) : 1);
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < nRot / 2; i++) {
        const extrap = (pos * r.freqBase ** ((-2 * i) / nRot)) / (factors ? (factors[i] as number) : 1);
        let theta = extrap * r.freqScale;
        if (r.extFactor) {
          const ramp = (1 - Math.min(1, Math.max(0, (i - low) / Math.max(0.001, high - low)))) * r.extFactor;
          theta = theta * (1 - ramp) + extrap * ramp;
        }
        const [a, b] = ropeNeox ? [i, i + nRot / 2] : [2 * i, 2 * i + 1];
        const x0 = v[h * hd + a] as number;
        const x1 = v[h * hd + b] as number;
        const c = Math.cos(theta) * mscale;
        const s = Math.sin(theta) * mscale;
        v[h * hd + a] = x0 * c - x1 * s;
        v[h * hd + b] = x0 * s + x1 * c;
      }
    }
  }

  /** Feeds one token at position `pos` (= tokens fed so far) and returns its logits. */
  step(token: number, pos: number): Float64Array {
    const c = this.cfg;
    const hd = c.headDim;
    const emb = this.#w('token_embd.weight');
    let x: Vec = new Float64Array(c.nEmbd);
    for (let i = 0; i < c.nEmbd; i++) x[i] = (emb[token * c.nEmbd + i] as number) * c.embedScale;
    for (let l = 0; l < c.nLayer; l++) {
      const b = `blk.${l}.`;
      const layer = c.layers[l]!;
      const xn = c.norms.preAttn ? this.#rmsnorm(x, `${b}attn_norm.weight`) : x;
      const q = this.#mat(`${b}attn_q.weight`, xn, c.nHead * hd);
      const k = this.#mat(`${b}attn_k.weight`, xn, c.nKv * hd);
      const v = this.#mat(`${b}attn_v.weight`, xn, c.nKv * hd);
      if (c.qkNorm) {
        for (let h = 0; h < c.nHead; h++)
          q.set(this.#rmsnorm(q, `${b}attn_q_norm.weight`, h * hd, hd), h * hd);
        for (let h = 0; h < c.nKv; h++) k.set(this.#rmsnorm(k, `${b}attn_k_norm.weight`, h * hd, hd), h * hd);
      }
      if (layer.rope) {
        this.#rope(q, c.nHead, pos, layer.rope);
        this.#rope(k, c.nKv, pos, layer.rope);
      }
      this.#kCache[l]![pos] = k;
      this.#vCache[l]![pos] = v;
      const window = layer.window;
      const first = window > 0 ? Math.max(0, pos - window + 1) : 0;
      const attn = new Float64Array(c.nHead * hd);
      for (let h = 0; h < c.nHead; h++) {
        const kvh = Math.floor(h / (c.nHead / c.nKv));
        const scores: number[] = [];
        for (let j = first; j <= pos; j++) {
          const kj = this.#kCache[l]![j]!;
          let s = 0;
          for (let d = 0; d < hd; d++) s += (q[h * hd + d] as number) * (kj[kvh * hd + d] as number);
          s *= c.attnScale;
          if (c.attnSoftcap > 0) s = c.attnSoftcap * Math.tanh(s / c.attnSoftcap);
          scores.push(s);
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const sum = e.reduce((a, z) => a + z, 0);
        for (let d = 0; d < hd; d++) {
          let acc = 0;
          e.forEach((p, jj) => (acc += p * (this.#vCache[l]![first + jj]![kvh * hd + d] as number)));
          attn[h * hd + d] = acc / sum;
        }
      }
      let o = this.#mat(`${b}attn_output.weight`, attn, c.nEmbd);
      if (c.norms.postAttn) o = this.#rmsnorm(o, `${b}post_attention_norm.weight`);
      x = x.map((xi, i) => xi + (o[i] as number));
      const fn = c.norms.preFfn ? this.#rmsnorm(x, `${b}ffn_norm.weight`) : x;
      const g = this.#mat(`${b}ffn_gate.weight`, fn, c.nFf);
      const u = this.#mat(`${b}ffn_up.weight`, fn, c.nFf);
      const a = g.map((gi, i) => {
        const act = c.gelu
          ? 0.5 * gi * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * gi * (1 + 0.044715 * gi * gi)))
          : gi / (1 + Math.exp(-gi));
        return act * (u[i] as number);
      });
      let d = this.#mat(`${b}ffn_down.weight`, a, c.nEmbd);
      if (c.norms.postFfn) d = this.#rmsnorm(d, `${b}post_ffw_norm.weight`);
      x = x.map((xi, i) => xi + (d[i] as number));
    }
    const xn = this.#rmsnorm(x, 'output_norm.weight');
    const outName = this.#t.has('output.weight') ? 'output.weight' : 'token_embd.weight';
    const logits = this.#mat(outName, xn, c.nVocab);
    if (c.finalSoftcap > 0) return logits.map((z) => c.finalSoftcap * Math.tanh(z / c.finalSoftcap));
    return logits;
  }

  /** Logits after feeding all tokens from position 0. */
  logits(tokens: number[]): Float64Array {
    this.reset();
    let out: Float64Array = new Float64Array(0);
    tokens.forEach((t, p) => (out = this.step(t, p)));
    return out;
  }
}
