/**
 * The engine against Dure's float64 CPU reference on tiny generated GGUFs covering every supported
 * architecture and every weight type (testModelMatrix), plus generation behaviour: streaming, stop
 * strings, abort, prefix reuse.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testGpu } from '../testing/node-gpu.ts';
import { relL2 } from '../testing/gpu-harness.ts';
import { CpuReferenceModel } from '../testing/cpu-forward.ts';
import {
  buildTestModel,
  testModelLabel,
  testModelMatrix,
  testModelPath,
  tokenizerMetadata,
  type TestModelSpec,
} from '../testing/test-models.ts';
import { writeGguf } from '../tools/gguf/writer.ts';
import { fromErrorData, toErrorData } from '../protocol/errors.ts';
import { ggmlByteLength } from './gguf/quant/traits.ts';
import { MemorySource } from './gguf/sources.ts';
import { GgmlType } from './gguf/types.ts';
import { UnsupportedWeightTypeError } from './gpu/weight-layout.ts';
import { FileSource } from '../node/file-source.ts';
import { readGguf } from './gguf/reader.ts';
import type { GenerateRequest } from './api.ts';
import { WebGpuEngine } from './engine.ts';
import { DureError } from './errors.ts';
import { Sampler } from './sampler.ts';

const ARCHS = ['llama', 'qwen2', 'qwen3', 'gemma2', 'exaone'] as const;
const PROMPT = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64];

async function engineFor(spec: TestModelSpec, opts = {}) {
  const { device } = await testGpu();
  // The fused layer kernels, the default on GPUs (a CPU-emulated adapter defaults to the separate
  // ones; model/fused.test.ts compares the two).
  const engine = new WebGpuEngine(device, { contextLength: 256, maxBatch: 8, fuseKernels: true, ...opts });
  await engine.loadSource(await FileSource.open(await testModelPath(spec)));
  return engine;
}

describe('agreement with the float64 CPU reference (relative L2 of last-position logits)', () => {
  const table: string[] = [];
  afterAll(() => console.log(['arch × type: relL2 vs CPU float64', ...table].join('\n')));
  // Every architecture with F32 and Q4_K_M, every other type on one architecture (see
  // testModelMatrix); each type's kernels are checked on their own in gpu/kernels.test.ts.
  for (const spec of testModelMatrix()) {
    const { arch, quant } = spec;
    it(testModelLabel(spec), async () => {
      const path = await testModelPath(spec);
      const src = await FileSource.open(path);
      const ref = await CpuReferenceModel.load(await readGguf(src));
      await src.close();
      const engine = await engineFor(spec);
      try {
        // Prefill in chunks (maxBatch 8 < prompt) and compare the last position.
        const got = await engine.logits(PROMPT);
        const want = ref.logits(PROMPT);
        const err = relL2(got, want);
        table.push(`${arch.padEnd(7)} ${quant.padEnd(7)} ${err.toExponential(2)}`);
        expect(err).toBeLessThan(1e-4);
      } finally {
        await engine.dispose();
      }
    });
  }
});

// Measured 2026-12-03 with the split-KV/tiled attention kernels (SwiftShader): f16 KV relL2 2.2e-5
// (exaone) to 3.8e-5 (qwen3), gemma2 2.0e-4; the f32 cache 1.1e-7 to 1.4e-6.
describe('f16 KV cache (packed pairs): within 5e-4 of the float64 reference, half the cache', () => {
  for (const arch of ARCHS) {
    it(`${arch} F32 weights`, async () => {
      const path = await testModelPath({ arch, quant: 'F32' });
      const src = await FileSource.open(path);
      const ref = await CpuReferenceModel.load(await readGguf(src));
      await src.close();
      const f16 = await engineFor({ arch, quant: 'F32' }, { kvCacheType: 'f16' });
      const f32 = await engineFor({ arch, quant: 'F32' }, { kvCacheType: 'f32' });
      try {
        const want = ref.logits(PROMPT);
        const err16 = relL2(await f16.logits(PROMPT), want);
        const err32 = relL2(await f32.logits(PROMPT), want);
        console.log(`f16 KV ${arch}: relL2 ${err16.toExponential(2)} (f32 KV ${err32.toExponential(2)})`);
        expect(err16).toBeLessThan(5e-4);
        // The f16 path really ran: rounding keys and values moves the logits well past f32 noise.
        expect(err16).toBeGreaterThan(10 * err32);
        expect(f16.model.forward.kvBytes * 2).toBe(f32.model.forward.kvBytes);
      } finally {
        await f16.dispose();
        await f32.dispose();
      }
    });
  }
});

describe('generation', () => {
  let engine: WebGpuEngine;
  beforeAll(async () => {
    engine = await engineFor({ arch: 'llama', quant: 'Q8_0' });
  });
  afterAll(() => engine.dispose());

  it('greedy decoding on the GPU matches argmax of the logits, token by token', async () => {
    const it1 = engine.generate({ promptIds: PROMPT, maxTokens: 8, greedy: true });
    let res;
    for (;;) {
      const r = await it1.next();
      if (r.done) {
        res = r.value;
        break;
      }
    }
    expect(res.ids.length).toBeGreaterThan(0);
    // Re-derive each token from full logits of the growing sequence.
    const seq = [...PROMPT];
    for (const id of res.ids) {
      const logits = await engine.logits(seq);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if ((logits[i] as number) > (logits[best] as number)) best = i;
      expect(id).toBe(best);
      seq.push(id);
    }
  });

  it.each([
    [
      'sampling with top-k, top-p, min-p and a penalty',
      { temperature: 0.9, topK: 40, topP: 0.95, minP: 0.02, repetitionPenalty: 1.3, seed: 7 },
    ],
    ['greedy with a repetition penalty', { greedy: true, repetitionPenalty: 1.5 }],
  ] as const)('%s: the GPU top-k path draws what the CPU sampler draws from full logits', async (_, opts) => {
    const g = engine.generate({ promptIds: PROMPT, maxTokens: 10, ...opts });
    let res;
    for (;;) {
      const r = await g.next();
      if (r.done) {
        res = r.value;
        break;
      }
    }
    const cpu = new Sampler(opts);
    const seq = [...PROMPT];
    for (const id of res.ids) {
      const want = cpu.sample(await engine.logits(seq), seq.slice(-64));
      expect(id).toBe(want);
      seq.push(id);
    }
    expect(res.ids.length).toBe(10);
  });

  it('is reproducible with a seed and streams text that joins to the result', async () => {
    const run = async () => {
      let streamed = '';
      const g = engine.generate({ promptIds: PROMPT, maxTokens: 12, temperature: 0.9, seed: 42 });
      for (;;) {
        const r = await g.next();
        if (r.done) return { streamed, res: r.value };
        streamed += r.value.text;
      }
    };
    const a = await run();
    const b = await run();
    expect(a.res.ids).toEqual(b.res.ids);
    expect(a.streamed).toBe(a.res.text);
    // Streaming never splits a character: the chunks decode exactly like the whole id sequence.
    // (Random weights may emit invalid byte sequences, and the token limit may cut a character
    // off at the end: both are dropped from the shown text where decode() has U+FFFD.)
    const whole = engine.model.tokenizer.decode(a.res.ids);
    expect(a.res.text).toBe(whole.replace(/\uFFFD/g, ''));
    expect(a.res.text).not.toContain('\uFFFD');
  });

  it('counts chat prompt tokens exactly as generate() feeds them (for fitting a conversation)', async () => {
    const messages = [
      { role: 'system' as const, content: '민원 안내원입니다.' },
      { role: 'user' as const, content: '전입신고는 어디에서 하나요?' },
      { role: 'assistant' as const, content: '행정복지센터에서 합니다.' },
      { role: 'user' as const, content: '기한은요?' },
    ];
    const n = await engine.countTokens(messages);
    expect(n).toBe(engine.promptIds({ messages }).length);
    const g = engine.generate({ messages, maxTokens: 2, greedy: true });
    let r = await g.next();
    while (!r.done) r = await g.next();
    expect(r.value.promptTokens).toBe(n);
  });

  it('aborts between tokens and then serves the next request correctly', async () => {
    const ctl = new AbortController();
    const g = engine.generate({ promptIds: PROMPT, maxTokens: 50, greedy: true, signal: ctl.signal });
    let n = 0;
    let res;
    for (;;) {
      const r = await g.next();
      if (r.done) {
        res = r.value;
        break;
      }
      if (++n === 2) ctl.abort();
    }
    expect(res.finishReason).toBe('abort');
    expect(res.ids.length).toBeLessThan(50);
    const fresh = await engineFor({ arch: 'llama', quant: 'Q8_0' });
    try {
      const collect = async (e: WebGpuEngine) => {
        const it2 = e.generate({ promptIds: PROMPT, maxTokens: 6, greedy: true });
        for (;;) {
          const r = await it2.next();
          if (r.done) return r.value.ids;
        }
      };
      expect(await collect(engine)).toEqual(await collect(fresh));
    } finally {
      await fresh.dispose();
    }
  });

  it('reuses the KV cache for a shared prefix with identical results', async () => {
    const longer = [...PROMPT, 3, 4, 5];
    await engine.logits(PROMPT);
    const reused = await engine.logits(longer);
    await engine.reset();
    const fresh = await engine.logits(longer);
    expect(relL2(reused, fresh)).toBeLessThan(1e-6);
  });

  it('stops at a stop string without ever streaming part of it', async () => {
    const collect = async (stop?: string[]) => {
      const chunks: string[] = [];
      const g = engine.generate({
        promptIds: PROMPT,
        maxTokens: 24,
        greedy: true,
        ...(stop ? { stop } : {}),
      });
      for (;;) {
        const r = await g.next();
        if (r.done) return { res: r.value, chunks };
        chunks.push(r.value.text);
      }
    };
    const free = await collect();
    const text = free.res.text;
    // A stop string from the middle of the free-running text (greedy output is deterministic).
    const at = Math.floor(text.length / 2);
    const stop = text.slice(at, at + 3);
    const stopped = await collect([stop]);
    expect(stopped.res.finishReason).toBe('stop');
    expect(stopped.res.text).toBe(text.slice(0, text.indexOf(stop)));
    expect(stopped.chunks.join('')).toBe(stopped.res.text);
  });

  // The token loop on the GPU (issue #21 item 2).
  const collectRun = async (e: WebGpuEngine, req: GenerateRequest) => {
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
      GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
        reads.push(args[2] ?? this.size);
        return mapAsync.apply(this, args);
      };
      // The order in which steps are submitted and the engine waits for their ids (recorded when
      // it awaits the promise, not when the GPU happens to finish: a step may complete early while
      // the consumer handles the previous token, which is fine).
      const events: string[] = [];
      const proto = Object.getPrototypeOf(engine.model.forward) as {
        decodeStep: (...a: unknown[]) => Promise<number>;
      };
      const decodeStep = proto.decodeStep;
      let step = 0;
      proto.decodeStep = function (this: unknown, ...args: unknown[]) {
        const k = step++;
        events.push(`submit ${k}`);
        const p = decodeStep.apply(this, args);
        return {
          then: (ok: (id: number) => unknown, fail?: (e: unknown) => unknown) => {
            events.push(`read ${k}`);
            return p.then(ok, fail);
          },
          catch: (fail: (e: unknown) => unknown) => p.catch(fail),
        } as unknown as Promise<number>;
      };
      let res;
      try {
        ({ res } = await collectRun(engine, { promptIds: PROMPT, maxTokens: 6, ...opts }));
      } finally {
        GPUBuffer.prototype.mapAsync = mapAsync;
        proto.decodeStep = decodeStep;
      }
      expect(res.finishReason).toBe('length');
      expect(res.ids).toHaveLength(6);
      expect(reads).toHaveLength(6);
      expect(reads.every((n) => n === 4)).toBe(true);
      // Every step after the first is submitted before the previous step's id is read back.
      for (let k = 1; k < 6; k++)
        expect(events.indexOf(`submit ${k}`)).toBeLessThan(events.indexOf(`read ${k - 1}`));
      expect(events.filter((e) => e.startsWith('submit'))).toHaveLength(6);
    },
  );

  it('a stop string found at token n never streams token n+1, and the next turn equals a fresh run', async () => {
    const free = await collectRun(engine, { promptIds: PROMPT, maxTokens: 10, greedy: true });
    const dec = engine.model.tokenizer;
    // A stop string that ends exactly with the text of token n (and is not in the text before it):
    // when it is found, the step that runs token n was already submitted.
    const n = [4, 5, 6, 7, 3].find((i) => {
      const s = dec.decode(free.res.ids.slice(0, i + 1)).slice(-2);
      return !s.includes('\uFFFD') && !dec.decode(free.res.ids.slice(0, i)).includes(s);
    })!;
    const stop = dec.decode(free.res.ids.slice(0, n + 1)).slice(-2);
    const stopped = await collectRun(engine, {
      promptIds: PROMPT,
      maxTokens: 10,
      greedy: true,
      stop: [stop],
    });
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
    const reused = await collectRun(engine, next);
    await engine.reset();
    expect(reused.res.ids).toEqual((await collectRun(engine, next)).res.ids);
  });

  it('frees the model on dispose and can load again', async () => {
    const e = await engineFor({ arch: 'qwen3', quant: 'Q4_0' });
    const before = await e.logits(PROMPT);
    await e.dispose();
    expect(() => e.model).toThrow(DureError);
    await e.loadSource(await FileSource.open(await testModelPath({ arch: 'qwen3', quant: 'Q4_0' })));
    expect(relL2(await e.logits(PROMPT), before)).toBe(0);
    await e.dispose();
  });

  it('renders chat messages with ChatML when the file has no template, as llama.cpp does', () => {
    const ids = engine.promptIds({ messages: [{ role: 'user', content: '전입신고 방법' }] });
    const text = '<|im_start|>user\n전입신고 방법<|im_end|>\n<|im_start|>assistant\n';
    expect(ids).toEqual(engine.model.tokenizer.encode(text, { parseSpecial: true }));
  });

  it('rejects a prompt longer than the context with a typed error', async () => {
    const tooLong = Array.from({ length: 300 }, (_, i) => (i % 200) + 1);
    const g = engine.generate({ promptIds: tooLong, maxTokens: 1 });
    await expect(g.next()).rejects.toMatchObject({ code: 'CONTEXT_OVERFLOW' });
  });

  it('rejects token ids outside the vocabulary', async () => {
    await expect(engine.logits([1, 10_000_000])).rejects.toBeInstanceOf(DureError);
  });
});

describe('loading', () => {
  it('refuses a tensor of a type with no GPU kernel, naming the tensor and the type', async () => {
    // A tiny GGUF whose blk.0.attn_q.weight holds IQ2_XXS bytes (a type with no GPU row).
    const built = buildTestModel({ arch: 'llama', quant: 'F32' }, await tokenizerMetadata('corpus-bpe'));
    const tensors = built.tensors.map((t) =>
      t.name === 'blk.0.attn_q.weight'
        ? {
            ...t,
            type: GgmlType.IQ2_XXS,
            data: new Uint8Array(ggmlByteLength(GgmlType.IQ2_XXS, t.data.length / 4)),
          }
        : t,
    );
    const bytes = writeGguf({ metadata: built.metadata, tensors });
    const { device } = await testGpu();
    const engine = new WebGpuEngine(device);
    const err = await engine.loadSource(new MemorySource(bytes)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedWeightTypeError);
    const e = err as UnsupportedWeightTypeError;
    expect(e.message).toMatch(/blk\.0\.attn_q\.weight.*IQ2_XXS/);
    expect(e.describe('ko')).toBe('텐서 blk.0.attn_q.weight의 형식 IQ2_XXS는 지원하지 않습니다.');
    expect(e.describe('en')).toMatch(/blk\.0\.attn_q\.weight has type IQ2_XXS/);
    // The names survive the trip from the engine worker to the page.
    const rebuilt = fromErrorData(toErrorData(e)) as UnsupportedWeightTypeError;
    expect(rebuilt.describe('ko')).toBe(e.describe('ko'));
  });

  it('fails early, with sizes, when the model exceeds the memory budget', async () => {
    const { device } = await testGpu();
    const engine = new WebGpuEngine(device, { memoryBudgetBytes: 1024 * 1024 });
    const path = await testModelPath({ arch: 'llama', quant: 'F32' });
    const source = await FileSource.open(path);
    await expect(engine.loadSource(source)).rejects.toMatchObject({
      code: 'MODEL_TOO_LARGE',
      message: expect.stringMatching(/needs [\d.]+ MiB .* budget is 1\.0 MiB/),
    });
    // The refused file is closed at once, not left open until garbage collection.
    await expect(source.read(0, 4)).rejects.toMatchObject({ code: 'GGUF_READ' });
  });
});
