import { describe, expect, it } from 'vitest';
import type { ChatEngine, EngineAdapter } from '../api.ts';
import { fromErrorData, toErrorData } from '../errors.ts';
import { applyAdapters, supportsAdapters } from './apply.ts';
import { LoraAdapterError, LoraUnsupportedError } from './errors.ts';
import { EngineStateError, ModelTooLargeError } from '../engine.ts';
import { ContextOverflowError } from '../model/forward.ts';

const adapter: EngineAdapter = {
  name: 'x',
  lora: { rank: 1, alpha: 1, targetModules: ['q_proj'], tensors: new Map() },
};

function fakeEngine(withLora: boolean): ChatEngine & { got?: EngineAdapter[] } {
  const e: ChatEngine & { got?: EngineAdapter[] } = {
    load: () => Promise.reject(new Error('unused')),
    generate: () => {
      throw new Error('unused');
    },
    reset: () => Promise.resolve(),
    dispose: () => Promise.resolve(),
  };
  if (withLora) {
    e.setAdapters = (list) => {
      e.got = list;
      return Promise.resolve();
    };
  }
  return e;
}

describe('applyAdapters', () => {
  it('passes adapters to an engine that supports them', async () => {
    const e = fakeEngine(true);
    expect(supportsAdapters(e)).toBe(true);
    await applyAdapters(e, [adapter]);
    expect(e.got).toEqual([adapter]);
  });

  it('throws a typed error that survives the worker boundary on the CPU fallback; [] is a no-op', async () => {
    const e = fakeEngine(false);
    expect(supportsAdapters(e)).toBe(false);
    await expect(applyAdapters(e, [])).resolves.toBeUndefined();
    const err = await applyAdapters(e, [adapter]).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(LoraUnsupportedError);
    const back = fromErrorData(toErrorData(err));
    expect(back).toBeInstanceOf(LoraUnsupportedError);
    expect(back.code).toBe('LORA_UNSUPPORTED');
  });

  it('errors setAdapters raises keep their classes across the worker boundary', () => {
    for (const e of [
      new LoraAdapterError('bad adapter'),
      new EngineStateError('no model'),
      new ModelTooLargeError('oom'),
      new ContextOverflowError('long'),
    ]) {
      const back = fromErrorData(toErrorData(e));
      expect(back).toBeInstanceOf(e.constructor);
      expect(back.code).toBe(e.code);
      expect(back.message).toBe(e.message);
    }
  });
});
