/** The architecture registry: one spec per architecture Dure runs (arch/<name>.ts). */
import { exaone } from './exaone.ts';
import { exaone4 } from './exaone4.ts';
import { gemma2 } from './gemma2.ts';
import { gemma3 } from './gemma3.ts';
import { llama } from './llama.ts';
import { qwen2 } from './qwen2.ts';
import { qwen3 } from './qwen3.ts';
import type { ArchSpec } from './types.ts';

export type { ArchSpec, ArchMeta, ArchHparams, BlockNorms, SwaPlan, Activation } from './types.ts';

export const ARCHITECTURES = ['llama', 'qwen2', 'qwen3', 'gemma2', 'gemma3', 'exaone', 'exaone4'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export const ARCH_SPECS: Readonly<Record<Architecture, ArchSpec>> = {
  llama,
  qwen2,
  qwen3,
  gemma2,
  gemma3,
  exaone,
  exaone4,
};

export function isArchitecture(name: string): name is Architecture {
  return (ARCHITECTURES as readonly string[]).includes(name);
}
