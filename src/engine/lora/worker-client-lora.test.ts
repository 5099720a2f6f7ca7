/**
 * WorkerEngine.setAdapters over a real MessageChannel with comlink: the adapters arrive intact in
 * the worker, their buffers are transferred (detached on the page, not copied), and the worker's
 * typed errors come back as the same classes.
 */
import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineAdapter } from '../api.ts';
import { toErrorData } from '../errors.ts';
import { WorkerEngine } from '../worker-client.ts';
import { LoraAdapterError } from './errors.ts';
import { randomAdapter } from '../../testing/random-adapter.ts';

const DIMS = { nLayer: 1, nEmbd: 32, nHead: 2, nKv: 1, headDim: 16, nFf: 48 };

describe('WorkerEngine.setAdapters', () => {
  const ports: MessagePort[] = [];
  afterEach(() => ports.splice(0).forEach((p) => p.close()));

  function connect(setAdapters: (a: EngineAdapter[]) => unknown): WorkerEngine {
    const { port1, port2 } = new MessageChannel();
    ports.push(port1, port2);
    Comlink.expose({ setAdapters }, port2);
    const fakeWorker = Object.assign(port1, { terminate: () => port1.close() });
    return new WorkerEngine({}, fakeWorker as unknown as Worker);
  }

  it('transfers the tensors to the worker intact', async () => {
    const lora = randomAdapter(DIMS, {
      rank: 2,
      alpha: 4,
      targetModules: ['q_proj', 'down_proj'],
      seed: 1,
      bStd: 0.1,
    });
    const copies = new Map([...lora.tensors].map(([k, v]) => [k, v.slice()]));
    let received: EngineAdapter[] = [];
    const engine = connect((a) => {
      received = a;
      return { ok: true, value: undefined };
    });
    await engine.setAdapters([{ name: 'n', lora, scale: 0.5 }]);
    expect(received).toHaveLength(1);
    const [got] = received;
    expect(got!.name).toBe('n');
    expect(got!.scale).toBe(0.5);
    expect(got!.lora.rank).toBe(2);
    expect(got!.lora.tensors).toBeInstanceOf(Map);
    for (const [k, v] of copies) expect(got!.lora.tensors.get(k)).toEqual(v);
    // Transferred, not copied: the page's arrays are detached.
    for (const v of lora.tensors.values()) expect(v.length).toBe(0);
  });

  it('rebuilds the worker-side LoraAdapterError', async () => {
    const engine = connect(() => ({
      ok: false,
      error: toErrorData(new LoraAdapterError('wrong base model')),
    }));
    const err = await engine.setAdapters([]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoraAdapterError);
    expect((err as LoraAdapterError).message).toBe('wrong base model');
  });
});
