/**
 * The engine's runtime robustness on a tiny model (Dawn on SwiftShader): a device lost in the
 * middle of a generation is replaced and the conversation continues from its token history with
 * the same greedy tokens; repeated losses end in a typed error; load, dispose and generate never
 * interleave (dispose aborts the generation in flight, a load waits for it, two generations run
 * one after the other).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../node/file-source.ts';
import { requestNodeGpu } from '../node/webgpu.ts';
import { testGpu } from '../testing/node-gpu.ts';
import { testModelPath } from '../testing/test-models.ts';
import type { GenerateChunk, GenerateResult } from './api.ts';
import { EngineStateError, GpuDeviceLostError, WebGpuEngine, type EngineOptions } from './engine.ts';

const PROMPT = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64];
const MAX = 12;
const REQ = { promptIds: PROMPT, maxTokens: MAX, greedy: true } as const;
let path: string;

async function engineOn(device: GPUDevice, opts: EngineOptions = {}): Promise<WebGpuEngine> {
  const engine = new WebGpuEngine(device, { contextLength: 64, maxBatch: 8, ...opts });
  await engine.loadSource(await FileSource.open(path));
  return engine;
}

/** Runs a generation to its end, calling `onChunk` with the number of chunks so far. */
async function drain(
  g: AsyncGenerator<GenerateChunk, GenerateResult, void>,
  onChunk: (n: number) => void | Promise<void> = () => {},
): Promise<GenerateResult> {
  let n = 0;
  for (;;) {
    const r = await g.next();
    if (r.done) return r.value;
    await onChunk(++n);
  }
}

const ownDevice = async () => (await requestNodeGpu()).device;

let shared: WebGpuEngine;
let want: number[];
beforeAll(async () => {
  path = await testModelPath({ arch: 'llama', quant: 'Q8_0' });
  shared = await engineOn((await testGpu()).device);
  want = (await drain(shared.generate(REQ))).ids;
  expect(want.length).toBeGreaterThan(8);
});
afterAll(() => shared.dispose());

describe('device loss', () => {
  it('destroying the device mid-generation: the engine rebuilds and the greedy tokens are unchanged', async () => {
    const engine = await engineOn(await ownDevice(), { recoverDevice: ownDevice });
    const first = engine.device;
    try {
      const r = await drain(engine.generate(REQ), (n) => {
        if (n === 5) engine.device.destroy();
      });
      expect(engine.recoveries).toBe(1);
      expect(engine.device).not.toBe(first);
      expect(r.ids).toEqual(want);
      // The next turn runs on the new device as well.
      expect((await drain(engine.generate(REQ))).ids).toEqual(want);
    } finally {
      await engine.dispose();
      engine.device.destroy();
    }
  });

  it('a second loss within a few tokens, or no way to get a device: GpuDeviceLostError', async () => {
    const engine = await engineOn(await ownDevice(), { recoverDevice: ownDevice });
    try {
      const run = drain(engine.generate(REQ), (n) => {
        if (n === 2 || n === 4) engine.device.destroy();
      });
      await expect(run).rejects.toBeInstanceOf(GpuDeviceLostError);
      expect(engine.recoveries).toBe(1);
    } finally {
      await engine.dispose();
      engine.device.destroy();
    }
    const bare = await engineOn(await ownDevice());
    bare.device.destroy();
    const e = await drain(bare.generate(REQ)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GpuDeviceLostError);
    expect((e as GpuDeviceLostError).code).toBe('GPU_DEVICE_LOST');
    await bare.dispose();
  });
});

describe('load, dispose and generate are serialised', () => {
  it('two concurrent generations run one after the other, each with the same tokens', async () => {
    const order: string[] = [];
    const [a, b] = await Promise.all([
      drain(shared.generate(REQ), () => void order.push('a')),
      drain(shared.generate(REQ), () => void order.push('b')),
    ]);
    expect(a.ids).toEqual(want);
    expect(b.ids).toEqual(want);
    // All of a's chunks come before any of b's.
    expect(order.join('')).toMatch(/^a+b+$/);
  });

  it('a load during a generation waits for it; the generation finishes on the old model', async () => {
    let loaded = false;
    let load: Promise<unknown> | undefined;
    const r = await drain(shared.generate(REQ), async (n) => {
      if (n === 2) load = FileSource.open(path).then((s) => shared.loadSource(s).then(() => (loaded = true)));
      // Give the load every chance to run in between.
      await new Promise((res) => setTimeout(res, 5));
      expect(loaded).toBe(false);
    });
    expect(r.ids).toEqual(want);
    await load;
    expect(loaded).toBe(true);
    expect((await drain(shared.generate(REQ))).ids).toEqual(want);
  });

  it('dispose during a generation stops it at the next token, then frees the model', async () => {
    const engine = await engineOn((await testGpu()).device);
    const errors: GPUError[] = [];
    engine.device.addEventListener('uncapturederror', (ev) => errors.push(ev.error));
    let disposed: Promise<void> | undefined;
    const r = await drain(engine.generate(REQ), (n) => {
      if (n === 3) disposed = engine.dispose();
    });
    await disposed;
    expect(r.finishReason).toBe('abort');
    expect(r.ids.length).toBeLessThan(want.length);
    expect(r.ids).toEqual(want.slice(0, r.ids.length));
    expect(errors).toEqual([]);
    await expect(drain(engine.generate(REQ))).rejects.toBeInstanceOf(EngineStateError);
  });
});
