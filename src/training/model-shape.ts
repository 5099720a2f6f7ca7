/** The base model's shape as the federated protocol describes it (src/protocol/lora.ts ModelShape). */
import type { ModelConfig } from '../engine/model/config.ts';
import { KNOWN_TARGET_MODULES, type ModelShape } from '../protocol/lora.ts';
import { moduleDims } from './lora-layout.ts';

export function protocolModelShape(cfg: ModelConfig): ModelShape {
  const modules: ModelShape['modules'] = {};
  for (const m of KNOWN_TARGET_MODULES) {
    const [inFeatures, outFeatures] = moduleDims(cfg, m);
    modules[m] = { inFeatures, outFeatures };
  }
  return { numLayers: cfg.nLayer, modules };
}
