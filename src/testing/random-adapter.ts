/**
 * Deterministic random LoRA adapters for tests and demos: Gaussian A (PEFT-like scale 1/√in) and a
 * non-zero Gaussian B, so the adapter really changes the model (a fresh PEFT adapter has B = 0).
 */
import { peftTensorName } from '../protocol/lora.ts';
import type { LoraTensors } from '../training/api.ts';
import { moduleDims, type LoraModelDims, type LoraModule } from '../engine/lora/adapter.ts';

/** mulberry32 + Box–Muller: identical in every JS engine. */
function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(Math.max(u(), 1e-12))) * Math.cos(2 * Math.PI * u());
}

export interface RandomAdapterOptions {
  rank: number;
  alpha: number;
  targetModules: LoraModule[];
  seed: number;
  /** Standard deviation of B's entries. */
  bStd: number;
  /** Layers to adapt (default: all). */
  layers?: number[];
}

export function randomAdapter(cfg: LoraModelDims, o: RandomAdapterOptions): LoraTensors {
  const next = gaussian(o.seed);
  const tensors = new Map<string, Float32Array>();
  const layers = o.layers ?? Array.from({ length: cfg.nLayer }, (_, i) => i);
  for (const layer of layers) {
    for (const m of o.targetModules) {
      const { inFeatures, outFeatures } = moduleDims(cfg, m);
      const a = new Float32Array(o.rank * inFeatures).map(() => next() / Math.sqrt(inFeatures));
      const b = new Float32Array(outFeatures * o.rank).map(() => next() * o.bStd);
      tensors.set(peftTensorName(layer, m, 'A'), a);
      tensors.set(peftTensorName(layer, m, 'B'), b);
    }
  }
  return { rank: o.rank, alpha: o.alpha, targetModules: [...o.targetModules], tensors };
}
