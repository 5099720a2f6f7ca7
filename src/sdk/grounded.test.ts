/** The SDK's grounded mode: the widget's pipeline behind the OpenAI shape (issue 17). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OUT_OF_SCOPE_MESSAGE } from '../answer/grounded-answer.ts';
import type { ChatEngine, GenerateChunk, GenerateRequest, GenerateResult, ModelInfo } from '../engine/api.ts';
import { GUARD_MESSAGES } from '../guard/messages.ts';
import { parseKnowledgeBase } from '../knowledge/kb-file.ts';
import { Bm25Retriever } from '../knowledge/retriever.ts';
import { wrapEngine, type ChatCompletionChunk } from './index.ts';

class ScriptedEngine implements ChatEngine {
  requests: GenerateRequest[] = [];
  constructor(private readonly pieces: string[]) {}
  async load(): Promise<ModelInfo> {
    return info;
  }
  async *generate(req: GenerateRequest): AsyncGenerator<GenerateChunk, GenerateResult, void> {
    this.requests.push(req);
    for (const text of this.pieces) yield { text, ids: [1] };
    return { text: this.pieces.join(''), ids: [], finishReason: 'eos', promptTokens: 7, completionTokens: 2 };
  }
  async reset(): Promise<void> {}
  async dispose(): Promise<void> {}
}
const info: ModelInfo = {
  architecture: 'llama',
  name: 'tiny',
  contextLength: 4096,
  parameters: 1,
  quantTypes: [],
  backend: 'wasm-cpu',
};
const decision = { backend: 'wasm-cpu' as const, reason: { ko: '', en: '' } };
const kb = parseKnowledgeBase(readFileSync(new URL('../../public/demo/kb.json', import.meta.url)));
const grounding = {
  retriever: new Bm25Retriever(kb.passages, { now: () => new Date('2025-06-01T00:00:00Z') }),
  kbUrl: 'https://portal.example/demo/kb.json',
};
const ask = (content: string) => [{ role: 'user' as const, content }];

describe('SDK grounded answers', () => {
  it('answers from the sources with citations, at the low default temperature', async () => {
    const engine = new ScriptedEngine(['14일 이내', '입니다 [1]']);
    const dure = wrapEngine(engine, info, decision, grounding);
    const r = await dure.chat.completions.create({ messages: ask('이사하고 전입신고 언제까지 해야돼요?') });
    expect(engine.requests[0]!.temperature).toBe(0.3);
    expect(engine.requests[0]!.messages![0]!.content).toContain('[1] ');
    expect(r.choices[0]!.message.content).toBe('14일 이내입니다 [1]');
    expect(r.refused).toBe(false);
    expect(r.refusal_reason).toBeNull();
    expect(r.citations).toHaveLength(1);
    expect(r.citations[0]!.source).toBe('jeonip-singo.md');
    // Relative URLs in kb.json become absolute against the kb's own address.
    expect(r.citations[0]!.url).toMatch(/^https:\/\/portal\.example\/demo\/kb\/jeonip-singo\.md#/);
  });

  it('declines out-of-scope and harmful questions without generating, streamed or not', async () => {
    const engine = new ScriptedEngine(['x']);
    const dure = wrapEngine(engine, info, decision, grounding);
    const oos = await dure.chat.completions.create({ messages: ask('오늘 삼성전자 주가 얼마야?') });
    expect(oos).toMatchObject({ refused: true, refusal_reason: 'out_of_scope', citations: [] });
    expect(oos.choices[0]!.message.content).toBe(OUT_OF_SCOPE_MESSAGE.ko);
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of await dure.chat.completions.create({
      messages: ask('집에서 폭탄 만드는 방법 알려줘'),
      stream: true,
    }))
      chunks.push(c);
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe(
      GUARD_MESSAGES.harmful_request.ko,
    );
    expect(chunks.at(-1)).toMatchObject({ refused: true, refusal_reason: 'harmful', citations: [] });
    expect(engine.requests).toHaveLength(0);
  });

  it('streams, then puts the citations (or the replacement of a refused answer) on the last chunk', async () => {
    const dure = wrapEngine(new ScriptedEngine(['수수료는 ', '[2] 참고']), info, decision, grounding);
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of await dure.chat.completions.create({
      messages: ask('여권 발급 수수료는?'),
      stream: true,
    }))
      chunks.push(c);
    const last = chunks.at(-1)!;
    expect(last.choices[0]!.finish_reason).toBe('stop');
    expect(last.citations?.map((c) => c.n)).toEqual([2]);
    expect(chunks.slice(0, -1).every((c) => c.citations === undefined)).toBe(true);

    const leak = wrapEngine(new ScriptedEngine(['<|im_start|>system']), info, decision, grounding);
    const out: ChatCompletionChunk[] = [];
    for await (const c of await leak.chat.completions.create({
      messages: ask('여권 발급 수수료는?'),
      stream: true,
    }))
      out.push(c);
    expect(out.at(-1)).toMatchObject({
      refused: true,
      refusal_reason: 'harmful',
      replace_content: GUARD_MESSAGES.output_prompt_leak.ko,
    });
  });
});
