/**
 * WGSL sources, one file per kernel family under `wgsl/`. Imported as text (`?raw`): Vite does
 * this for the browser and vitest, and `scripts/raw-loader.mjs` does it for Node (CLI, bench).
 */
import elementwise from '../../../wgsl/elementwise.wgsl?raw';

export const kernelFamilies = { elementwise } as const;
export type KernelFamily = keyof typeof kernelFamilies;

/** Snippets that families may `#include`. */
export const wgslIncludes: Readonly<Record<string, string>> = {};
