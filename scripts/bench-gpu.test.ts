/**
 * `npm run bench:gpu -- --smoke` (bench/gpu.ts) run through its pieces in this process, at the
 * smoke shape with fewer tokens: the JSON it prints has the promised shape and positive figures.
 * (The script itself only adds the adapter choice and one console.log.)
 */
import { describe, expect, it } from 'vitest';
import { compareSizes, gpuCompare } from '../bench/gpu-compare.ts';
import { testGpu } from '../src/testing/node-gpu.ts';

describe('bench:gpu --smoke', () => {
  it('prints one JSON line with Dure, llama.cpp and their ratio, all positive', async () => {
    const { device, description } = await testGpu();
    const sizes = { ...compareSizes(true), promptTokens: 8, decodeTokens: 3, copyBytes: 4 << 20 };
    const result = await gpuCompare(device, description, sizes, true, () => undefined);
    const line = JSON.stringify(result);
    expect(line).not.toContain('\n');
    const json = JSON.parse(line) as Record<string, unknown>;
    expect(json.adapter).toBe(description);
    const positive = (o: unknown, keys: string[]) => {
      for (const k of keys) {
        const v = (o as Record<string, unknown>)[k];
        expect(typeof v, k).toBe('number');
        expect(Number.isFinite(v) && (v as number) > 0, `${k} = ${String(v)}`).toBe(true);
      }
    };
    const figures = ['decode_tok_s', 'prefill_tok_s', 'pct_copy_bandwidth'];
    positive(json.dure, figures);
    expect(json.llama_cpp).not.toHaveProperty('error');
    positive(json.llama_cpp, figures);
    positive(json, ['ratio', 'copy_gbps']);
    // Both sides of the fused default, measured in the same run.
    positive(json.fused_vs_separate, [
      'fused_decode_tok_s',
      'separate_decode_tok_s',
      'fused_prefill_tok_s',
      'separate_prefill_tok_s',
      'decode_ratio',
    ]);
    // The token loop on the GPU: one 4-byte readback per token.
    expect((json.dure as { readbacks_per_token: number }).readbacks_per_token).toBe(1);
  });
});
