// Imported by the package's own name, as a developer would (package.json "exports").
import { createDure, InvalidRequestError, wrapEngine } from 'dure';
import { describe, expect, it } from 'vitest';
import type { ChatEngine, GenerateChunk, GenerateRequest, GenerateResult, ModelInfo } from '../engine/api.ts';

// A scripted engine stands in for the model so the OpenAI-shape mapping itself is checked; the
// real engines run behind this wrapper in e2e/widget-ux.spec.ts.
class ScriptedEngine implements ChatEngine {
  requests: GenerateRequest[] = [];
  constructor(private readonly pieces: string[]) {}
  async load(): Promise<ModelInfo> {
    return info;
  }
  async *generate(req: GenerateRequest): AsyncGenerator<GenerateChunk, GenerateResult, void> {
    this.requests.push(req);
    for (const text of this.pieces) yield { text, ids: [1] };
    return {
      text: this.pieces.join(''),
      ids: [],
      finishReason: 'length',
      promptTokens: 7,
      completionTokens: this.pieces.length,
    };
  }
  async reset(): Promise<void> {}
  async dispose(): Promise<void> {}
}
const info: ModelInfo = {
  architecture: 'llama',
  name: 'tiny',
  contextLength: 512,
  parameters: 1,
  quantTypes: [],
  backend: 'wasm-cpu',
};
const decision = { backend: 'wasm-cpu' as const, reason: { ko: '', en: '' } };
const messages = [{ role: 'user' as const, content: '안녕하세요' }];

describe('createDure / wrapEngine', () => {
  it('is importable by package name', () => expect(typeof createDure).toBe('function'));

  it('streams OpenAI-style chunks: role first, content deltas, finish reason last', async () => {
    const dure = wrapEngine(new ScriptedEngine(['안', '녕']), info, decision);
    const chunks = [];
    for await (const c of await dure.chat.completions.create({ messages, stream: true })) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([
      { role: 'assistant' },
      { content: '안' },
      { content: '녕' },
      {},
    ]);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('maps parameters onto the engine request and returns usage', async () => {
    const engine = new ScriptedEngine(['네']);
    const dure = wrapEngine(engine, info, decision);
    const r = await dure.chat.completions.create({
      messages,
      temperature: 0,
      max_tokens: 5,
      stop: '끝',
      top_p: 0.9,
      seed: 3,
    });
    expect(engine.requests[0]).toMatchObject({
      temperature: 0,
      maxTokens: 5,
      stop: ['끝'],
      topP: 0.9,
      seed: 3,
      messages,
    });
    expect(r).toMatchObject({
      object: 'chat.completion',
      choices: [{ message: { role: 'assistant', content: '네' }, finish_reason: 'length' }],
      usage: { prompt_tokens: 7, completion_tokens: 1, total_tokens: 8 },
    });
  });

  it.each([
    [{ messages: [] }],
    [{ messages: [{ role: 'tool', content: 'x' }] }],
    [{ messages, temperature: 3 }],
    [{ messages, max_tokens: 0 }],
    [{ messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }],
  ])('rejects invalid requests with a typed error: %j', async (bad) => {
    const dure = wrapEngine(new ScriptedEngine([]), info, decision);
    const e = await dure.chat.completions.create(bad as never).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidRequestError);
    expect((e as InvalidRequestError).code).toBe('INVALID_REQUEST');
  });
});
