import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../engine/api.ts';
import { encodeChat } from '../engine/chat-template/index.ts';
import { modelChatTemplate } from '../engine/chat-template/fallback.ts';
import { chatTokenCounter } from '../engine/chat-tokens.ts';
import { MemorySource } from '../engine/gguf/sources.ts';
import { readGguf } from '../engine/gguf/reader.ts';
import { createTokenizer } from '../engine/tokenizer/index.ts';
import { EDGE_CASES } from '../testing/fixtures/edge-cases.ts';
import { KO_LINES } from '../testing/fixtures/ko-lines.ts';
import { tokenizerMetadata, TEST_TOKENIZERS } from '../testing/test-models.ts';
import { ContextOverflowError } from '../protocol/errors.ts';
import {
  answeredTurns,
  dropBrokenTail,
  estimateChatTokens,
  fitPrompt,
  MIN_ANSWER_TOKENS,
  type Turn,
} from './prompt-fit.ts';

const SYSTEM = '당신은 행복시 민원포털의 친절한 안내원입니다. 쉬운 한국어로 짧게 답하세요.';

/** The widget's demo model (4096-token Korean BPE, ChatML, 512-token context). */
const demo = (async () => {
  const bytes = new Uint8Array(await readFile(new URL('../../public/models/demo.gguf', import.meta.url)));
  const file = await readGguf(new MemorySource(bytes));
  const tokenizer = createTokenizer(file.metadata);
  const template = modelChatTemplate(file.metadata);
  return {
    count: (messages: ChatMessage[]) =>
      encodeChat(template, tokenizer, { messages }, { addBos: false }).length,
    bytes,
  };
})();

/** A conversation of `n` answered turns and a new question, in the widget's stored shape. */
function conversation(n: number, answerChars = 40): Turn[] {
  const turns: Turn[] = [];
  for (let i = 0; i < n; i++) {
    turns.push({ role: 'user', content: `${i + 1}번째 질문: ${KO_LINES[i % KO_LINES.length]}` });
    turns.push({
      role: 'assistant',
      content: `${i + 1}번째 답변: ${'전입신고는 가까운 행정복지센터에서 합니다. '.repeat(8)}`.slice(
        0,
        answerChars,
      ),
      finish: 'eos',
    });
  }
  turns.push({ role: 'user', content: '마지막 질문: 여권은 어디에서 다시 발급받나요?' });
  return turns;
}

describe('answeredTurns', () => {
  it('keeps answered turns in order and ends with the new question', () => {
    const { pairs, question } = answeredTurns(conversation(3));
    expect(pairs.map(([q, a]) => [q.role, a.role])).toEqual([
      ['user', 'assistant'],
      ['user', 'assistant'],
      ['user', 'assistant'],
    ]);
    expect(pairs[0]?.[0].content).toContain('1번째 질문');
    expect(question).toEqual({ role: 'user', content: '마지막 질문: 여권은 어디에서 다시 발급받나요?' });
  });

  it('never resends a failed turn, an empty answer or an unanswered question (older versions stored them)', () => {
    const history: Turn[] = [
      { role: 'user', content: '첫 질문' },
      { role: 'assistant', content: '첫 답', finish: 'eos' },
      // What versions before the fix stored when the engine failed: an empty "error" answer.
      { role: 'user', content: '실패한 질문' },
      { role: 'assistant', content: '', finish: 'error' },
      { role: 'user', content: '일부만 답한 뒤 실패' },
      { role: 'assistant', content: '반쯤 쓴 답', finish: 'error' },
      { role: 'user', content: '멈춘 질문' },
      { role: 'assistant', content: '', finish: 'abort' },
      { role: 'user', content: '답이 없는 질문' },
      { role: 'user', content: '멈추기 전까지 답한 질문' },
      { role: 'assistant', content: '멈추기 전까지 쓴 답', finish: 'abort' },
      { role: 'user', content: '새 질문' },
    ];
    const { pairs, question } = answeredTurns(history);
    expect(pairs.map(([q, a]) => `${q.content}→${a.content}`)).toEqual([
      '첫 질문→첫 답',
      '멈추기 전까지 답한 질문→멈추기 전까지 쓴 답',
    ]);
    expect(question.content).toBe('새 질문');
  });

  it('refuses a conversation that does not end with a question', () => {
    expect(() => answeredTurns([])).toThrow(TypeError);
    expect(() => answeredTurns(conversation(1).slice(0, 2))).toThrow(TypeError);
  });
});

describe('fitPrompt', () => {
  it('sends everything, counted once, when it fits', async () => {
    let calls = 0;
    const fit = await fitPrompt({
      systemPrompt: SYSTEM,
      history: conversation(2),
      contextLength: 4096,
      maxTokens: 256,
      countTokens: (m) => (calls++, estimateChatTokens(m)),
    });
    expect(calls).toBe(1);
    expect(fit.droppedTurns).toBe(0);
    expect(fit.messages.map((m) => m.role)).toEqual([
      'system',
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
    ]);
    expect(fit.maxTokens).toBe(256);
  });

  it('keeps the system prompt and the newest turns, drops the oldest, and leaves max-tokens free (demo model, 512 tokens)', async () => {
    const { count } = await demo;
    const ctx = 512;
    for (const maxTokens of [16, 64, 128]) {
      for (let n = 0; n <= 40; n += 3) {
        const history = conversation(n);
        const fit = await fitPrompt({
          systemPrompt: SYSTEM,
          history,
          contextLength: ctx,
          maxTokens,
          countTokens: count,
        });
        expect(fit.messages[0]).toEqual({ role: 'system', content: SYSTEM });
        expect(fit.messages.at(-1)?.content).toBe(history.at(-1)?.content);
        expect(fit.promptTokens).toBe(count(fit.messages));
        expect(fit.promptTokens + maxTokens).toBeLessThanOrEqual(ctx);
        expect(fit.maxTokens).toBe(maxTokens);
        // The kept turns are the newest ones, in order…
        const kept = n - fit.droppedTurns;
        const { pairs } = answeredTurns(history);
        expect(fit.messages.slice(1, -1)).toEqual(pairs.slice(n - kept).flat());
        // …and as many as fit: one more would not leave room for the answer.
        if (fit.droppedTurns > 0) {
          const more = [
            fit.messages[0] as ChatMessage,
            ...pairs.slice(n - kept - 1).flat(),
            fit.messages.at(-1) as ChatMessage,
          ];
          expect(count(more) + maxTokens).toBeGreaterThan(ctx);
        }
      }
    }
  });

  it('holds a 10-question conversation in 512 tokens that untrimmed would overflow', async () => {
    const { count } = await demo;
    const history = conversation(9, 120);
    const untrimmed = [
      { role: 'system' as const, content: SYSTEM },
      ...history.map((m) => ({ role: m.role, content: m.content })),
    ];
    expect(count(untrimmed)).toBeGreaterThan(512);
    const fit = await fitPrompt({
      systemPrompt: SYSTEM,
      history,
      contextLength: 512,
      maxTokens: 24,
      countTokens: count,
    });
    expect(fit.droppedTurns).toBeGreaterThan(0);
    expect(fit.promptTokens + 24).toBeLessThanOrEqual(512);
  });

  it('finds the fit in a few counts however long the history', async () => {
    let calls = 0;
    const fit = await fitPrompt({
      systemPrompt: SYSTEM,
      history: conversation(100),
      contextLength: 2048,
      maxTokens: 256,
      countTokens: (m) => (calls++, estimateChatTokens(m)),
    });
    expect(fit.droppedTurns).toBeGreaterThan(50);
    expect(calls).toBeLessThanOrEqual(9);
  });

  it('caps the answer reserve at half the context when max-tokens is larger than the context', async () => {
    const { count } = await demo;
    const fit = await fitPrompt({
      systemPrompt: SYSTEM,
      history: conversation(12),
      contextLength: 512,
      maxTokens: 2000,
      countTokens: count,
    });
    expect(fit.promptTokens).toBeLessThanOrEqual(256);
    expect(fit.droppedTurns).toBeGreaterThan(0);
    expect(fit.maxTokens).toBe(512 - fit.promptTokens);
  });

  it('answers a question that nearly fills the context in what is left, and refuses one that leaves no room', async () => {
    const count = (m: ChatMessage[]) => m.reduce((s, x) => s + x.content.length, 0);
    const question = (len: number): Turn[] => [
      ...conversation(2),
      { role: 'user', content: 'ㄱ'.repeat(len) },
    ];
    const fit = await fitPrompt({
      systemPrompt: '',
      history: question(400),
      contextLength: 512,
      maxTokens: 256,
      countTokens: count,
    });
    expect(fit.droppedTurns).toBe(2);
    expect(fit.promptTokens).toBe(400);
    expect(fit.maxTokens).toBe(112);
    await expect(
      fitPrompt({
        systemPrompt: '',
        history: question(512 - MIN_ANSWER_TOKENS + 1),
        contextLength: 512,
        maxTokens: 256,
        countTokens: count,
      }),
    ).rejects.toBeInstanceOf(ContextOverflowError);
    const ok = await fitPrompt({
      systemPrompt: '',
      history: question(512 - MIN_ANSWER_TOKENS),
      contextLength: 512,
      maxTokens: 256,
      countTokens: count,
    });
    expect(ok.maxTokens).toBe(MIN_ANSWER_TOKENS);
  });
});

describe('chatTokenCounter (the CPU path counts with the GGUF header)', () => {
  it('counts what the WebGPU engine feeds, plus the BOS llama.cpp adds when the vocabulary asks', async () => {
    const { count, bytes } = await demo;
    const counter = await chatTokenCounter(new MemorySource(bytes));
    const messages = [
      { role: 'system' as const, content: SYSTEM },
      ...conversation(3).map((m) => ({ role: m.role, content: m.content })),
    ];
    expect(counter(messages)).toBe(count(messages));
    const withBos = await chatTokenCounter(new Blob([bytes]), { addBos: true });
    expect(withBos(messages) - count(messages)).toBeGreaterThanOrEqual(0);
    expect(withBos(messages) - count(messages)).toBeLessThanOrEqual(1);
  });
});

describe('estimateChatTokens', () => {
  it('never counts fewer tokens than the real tokenizers and templates do', async () => {
    const texts = [...KO_LINES, ...EDGE_CASES, 'a', ''];
    for (const name of TEST_TOKENIZERS) {
      const meta = new Map(await tokenizerMetadata(name));
      const tokenizer = createTokenizer(meta);
      const template = modelChatTemplate(meta);
      for (let i = 0; i < texts.length; i += 3) {
        const messages: ChatMessage[] = [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: texts[i] ?? '' },
          { role: 'assistant', content: texts[i + 1] ?? '' },
          { role: 'user', content: texts[i + 2] ?? '' },
        ];
        const real = encodeChat(template, tokenizer, { messages }, { addBos: tokenizer.shouldAddBos }).length;
        expect(estimateChatTokens(messages), `${name}: ${JSON.stringify(messages)}`).toBeGreaterThanOrEqual(
          real,
        );
      }
    }
  });
});

describe('dropBrokenTail', () => {
  it('drops only a trailing replacement character', () => {
    expect(dropBrokenTail('민원 안내입니\uFFFD')).toBe('민원 안내입니');
    expect(dropBrokenTail('a\uFFFDb')).toBe('a\uFFFDb');
    expect(dropBrokenTail('끝')).toBe('끝');
  });
});
