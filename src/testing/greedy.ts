/** Greedy generation to the end, for tests that compare token ids between engines or paths. */
import type { WebGpuEngine } from '../engine/engine.ts';

/** The ids `engine` generates greedily after `promptIds`, at most `maxTokens` of them. */
export async function greedyIds(
  engine: WebGpuEngine,
  promptIds: readonly number[],
  maxTokens: number,
): Promise<number[]> {
  const g = engine.generate({ promptIds: [...promptIds], maxTokens, greedy: true });
  for (;;) {
    const r = await g.next();
    if (r.done) return r.value.ids;
  }
}
