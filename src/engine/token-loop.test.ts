/**
 * The token loop on the GPU (issue #21 item 2): the draw kernel picks what the CPU sampler picks
 * from the same random numbers; a generation reads back one id per token while the next step is
 * already submitted; a stop found one step late never reaches the stream and leaves the KV cache
 * as a fresh run would. (engine.test.ts checks the generated tokens against full-logit sampling.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDrawParams } from './gpu/params.ts';
import { GpuHarness, rng } from '../testing/gpu-harness.ts';
import { testModelPath } from '../testing/test-models.ts';
import { FileSource } from '../node/file-source.ts';
import type { GenerateRequest } from './api.ts';
import { WebGpuEngine } from './engine.ts';
import { Sampler } from './sampler.ts';
import { testGpu } from '../testing/node-gpu.ts';

const PROMPT = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64];

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

describe('generation on the GPU token loop', () => {
  let engine: WebGpuEngine;
  const spec = { arch: 'llama', quant: 'Q8_0' } as const;
  beforeAll(async () => {
    const { device } = await testGpu();
    engine = new WebGpuEngine(device, { contextLength: 256, maxBatch: 8, fuseKernels: true });
    await engine.loadSource(await FileSource.open(await testModelPath(spec)));
  });
  afterAll(() => engine.dispose());

  const collect = async (e: WebGpuEngine, req: GenerateRequest) => {
    const chunks: { text: string; ids: number[] }[] = [];
    const g = e.generate(req);
    for (;;) {
      const r = await g.next();
      if (r.done) return { res: r.value, chunks };
      chunks.push(r.value);
    }
  };

  it.each([
    ['greedy', { greedy: true }],
    [
      'seeded sampling with a repetition penalty',
      { temperature: 0.9, topK: 20, topP: 0.9, repetitionPenalty: 1.3, seed: 5 },
    ],
  ] as const)(
    '%s reads back one 4-byte id per token, with the next step already submitted',
    async (_, opts) => {
      const mapAsync = GPUBuffer.prototype.mapAsync;
      const reads: number[] = [];
      let submittedWhileWaiting = 0;
      let pending = 0;
      const submit = GPUQueue.prototype.submit;
      GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
        reads.push(args[2] ?? this.size);
        pending++;
        return mapAsync.apply(this, args).finally(() => pending--);
      };
      GPUQueue.prototype.submit = function (this: GPUQueue, ...args: Parameters<GPUQueue['submit']>) {
        if (pending > 0) submittedWhileWaiting++;
        return submit.apply(this, args);
      };
      let res;
      try {
        ({ res } = await collect(engine, { promptIds: PROMPT, maxTokens: 6, ...opts }));
      } finally {
        GPUBuffer.prototype.mapAsync = mapAsync;
        GPUQueue.prototype.submit = submit;
      }
      expect(res.finishReason).toBe('length');
      expect(res.ids).toHaveLength(6);
      expect(reads).toHaveLength(6);
      expect(reads.every((n) => n === 4)).toBe(true);
      // Every step but the first is submitted while the previous step's id is still on its way.
      expect(submittedWhileWaiting).toBe(5);
    },
  );

  it('a stop string found at token n never streams token n+1, and the next turn equals a fresh run', async () => {
    const free = await collect(engine, { promptIds: PROMPT, maxTokens: 10, greedy: true });
    const dec = engine.model.tokenizer;
    // A stop string that ends exactly with the text of token n (and is not in the text before it):
    // when it is found, the step that runs token n was already submitted.
    const n = [4, 5, 6, 7, 3].find((i) => {
      const s = dec.decode(free.res.ids.slice(0, i + 1)).slice(-2);
      return !s.includes('\uFFFD') && !dec.decode(free.res.ids.slice(0, i)).includes(s);
    })!;
    const stop = dec.decode(free.res.ids.slice(0, n + 1)).slice(-2);
    const stopped = await collect(engine, { promptIds: PROMPT, maxTokens: 10, greedy: true, stop: [stop] });
    expect(stopped.res.finishReason).toBe('stop');
    expect(stopped.res.ids).toEqual(free.res.ids.slice(0, n + 1));
    const streamedIds = stopped.chunks.flatMap((c) => c.ids);
    expect(streamedIds).not.toContain(free.res.ids[n + 1]);
    expect(stopped.chunks.map((c) => c.text).join('')).toBe(stopped.res.text);
    // Next turn: the conversation so far plus new tokens reuses the cache up to the stop; after
    // reset() the same request prefills everything, as a fresh engine would.
    const next = {
      promptIds: [...PROMPT, ...stopped.res.ids, 3, 4],
      maxTokens: 5,
      temperature: 0.8,
      seed: 9,
    };
    const reused = await collect(engine, next);
    await engine.reset();
    expect(reused.res.ids).toEqual((await collect(engine, next)).res.ids);
  });
});
