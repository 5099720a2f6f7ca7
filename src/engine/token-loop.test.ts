/**
 * The token loop's draw on the GPU (issue #21 item 2) picks what the CPU sampler picks from the
 * same candidates and random numbers. engine.test.ts ('generation') checks the loop itself: tokens
 * against full-logit sampling, one readback per token with the next step in flight, a late stop.
 */
import { describe, expect, it } from 'vitest';
import { encodeDrawParams } from './gpu/params.ts';
import { GpuHarness, rng } from '../testing/gpu-harness.ts';
import { Sampler } from './sampler.ts';

describe('the GPU draw kernel', () => {
  it('picks what sampleCandidates picks from the same candidates and random numbers', async () => {
    const h = await GpuHarness.create({ subgroups: false });
    try {
      // 40 candidates in scrambled order, with ties (the order then goes by id).
      const r = rng(3);
      const k = 40;
      const pairs = Array.from({ length: k }, (_, i) => [(i * 37 + 11) % 500, Math.round(r() * 24) / 4 - 2]);
      const words = new Uint32Array(1 + 2 * k);
      const asF32 = new Float32Array(words.buffer);
      words[0] = k;
      pairs.forEach(([id, z], i) => {
        words[1 + 2 * i] = id!;
        asF32[2 + 2 * i] = z!;
      });
      const sorted = [...pairs].sort((a, b) => b[1]! - a[1]! || a[0]! - b[0]!);
      const candidates = h.storage(words);
      const result = h.storage(16);
      const params = h.device.createBuffer({
        size: 32,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      const draw = await h.ops.draw({ candidates, result, params });
      const settings = [
        { temperature: 0.7, topP: 1, minP: 0 },
        { temperature: 1.3, topP: 0.9, minP: 0 },
        { temperature: 0.9, topP: 0.95, minP: 0.05 },
      ];
      const trials = 30;
      const out = h.storage(4 * trials * settings.length);
      const want: number[] = [];
      let t = 0;
      for (const [si, s] of settings.entries()) {
        const cpu = new Sampler({ ...s, topK: k, seed: 100 + si });
        const draws = new Sampler({ seed: 100 + si });
        for (let j = 0; j < trials; j++, t++) {
          want.push(
            cpu.sampleCandidates(
              sorted.map((p) => p[0]!),
              sorted.map((p) => p[1]!),
            ),
          );
          h.device.queue.writeBuffer(
            params,
            0,
            encodeDrawParams({ greedy: false, ...s, rand: draws.nextRandom() }),
          );
          h.run(draw, { nTokens: 1, pos: 0 });
          const enc = h.device.createCommandEncoder();
          enc.copyBufferToBuffer(result, 0, out, 4 * t, 4);
          h.device.queue.submit([enc.finish()]);
        }
      }
      const got = [...new Uint32Array(await h.read(out, 4 * t))];
      expect(got).toEqual(want);
      // The settings really draw different tokens (the test would catch a constant pick).
      expect(new Set(got).size).toBeGreaterThan(5);
      params.destroy();
    } finally {
      h.destroy();
    }
  });
});
