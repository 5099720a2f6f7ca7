/**
 * OpenAI-style API (the shape developers already know) for those who want no UI:
 *
 *   import { createDure } from 'dure';
 *   const dure = await createDure({ model: '/models/model.gguf', sha256: '…' });
 *   for await (const chunk of await dure.chat.completions.create({ messages, stream: true }))
 *     out.textContent += chunk.choices[0]?.delta.content ?? '';
 *
 * Backed by the same engine start-up as the `<dure-chat>` widget; nothing leaves the device.
 */
import type { ChatEngine, ChatMessage, GenerateResult, ModelInfo } from '../engine/api.ts';
import {
  finishAnswer,
  fitGroundedPrompt,
  planAnswer,
  type AnswerLang,
  type Citation,
  type GroundedAnswer,
  type RefusalReason,
} from '../answer/grounded-answer.ts';
import { estimateChatTokens, type Turn } from '../answer/prompt-fit.ts';
import { ruleGuard } from '../guard/rule-guard.ts';
import { Bm25Retriever, type Retriever } from '../knowledge/retriever.ts';
import { loadKnowledgeBase, resolveCitationUrl } from '../widget/kb-loader.ts';
import type { BackendDecision } from '../widget/backend.ts';
import { checkStartOptions, startEngine, type StartOptions } from './runtime.ts';
export { checkStartOptions };
import { InvalidRequestError } from '../protocol/errors.ts';
export { InvalidRequestError };

export { registerWebGpuEngine, NoBackendError, type DureProgress, type StartOptions } from './runtime.ts';
export { detectPii, maskPii, type PiiFinding } from '../safety/pii.ts';
// A model the WebGPU engine refuses rejects createDure with one of these (no silent CPU fallback);
// refusalText(err, 'ko') says which format or architecture in plain words.
export { UnsupportedWeightTypeError, UnsupportedArchitectureError } from '../protocol/errors.ts';
export { refusalText } from '../model-manager/refusal-text.ts';
export type { Citation, RefusalReason } from '../answer/grounded-answer.ts';

/** What a grounded answer adds to the OpenAI shape (issue 17). */
export interface GroundedFields {
  /** The knowledge-base sections the answer cites (empty when refused or not grounded). */
  citations: Citation[];
  /** The content is a fixed message (out of scope, refused, help line), not the model's answer. */
  refused: boolean;
  refusal_reason: RefusalReason | null;
}

export interface ChatCompletionCreateParams {
  messages: ChatMessage[];
  stream?: boolean;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stop?: string | string[];
  seed?: number;
  signal?: AbortSignal;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: 0;
    delta: { role?: 'assistant'; content?: string };
    finish_reason: FinishReason | null;
  }[];
  /**
   * On the last chunk of a grounded answer. When the output check refused what was streamed,
   * `replace_content` is the message to show instead of it.
   */
  citations?: Citation[];
  refused?: boolean;
  refusal_reason?: RefusalReason | null;
  replace_content?: string;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: 0; message: { role: 'assistant'; content: string }; finish_reason: FinishReason }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  /** Always present; `citations` is empty and `refused` false when the client is not grounded. */
  citations: Citation[];
  refused: boolean;
  refusal_reason: RefusalReason | null;
}

export interface Dure {
  chat: {
    completions: {
      create(
        params: ChatCompletionCreateParams & { stream: true },
      ): Promise<AsyncIterable<ChatCompletionChunk>>;
      create(params: ChatCompletionCreateParams & { stream?: false }): Promise<ChatCompletion>;
    };
  };
  readonly info: ModelInfo;
  readonly backend: BackendDecision;
  dispose(): Promise<void>;
}

const MAX_MESSAGES = 256;

const MAX_CHARS = 64_000;

function validate(p: ChatCompletionCreateParams): void {
  if (!Array.isArray(p.messages) || p.messages.length === 0)
    throw new InvalidRequestError('messages must be a non-empty array');
  if (p.messages.length > MAX_MESSAGES) throw new InvalidRequestError(`at most ${MAX_MESSAGES} messages`);
  let chars = 0;
  for (const m of p.messages) {
    if (!m || !['system', 'user', 'assistant'].includes(m.role) || typeof m.content !== 'string')
      throw new InvalidRequestError('each message needs role system|user|assistant and string content');
    chars += m.content.length;
  }
  if (chars > MAX_CHARS) throw new InvalidRequestError(`messages exceed ${MAX_CHARS} characters`);
  if (p.temperature !== undefined && !(p.temperature >= 0 && p.temperature <= 2))
    throw new InvalidRequestError('temperature must be between 0 and 2');
  if (
    p.max_tokens !== undefined &&
    !(Number.isInteger(p.max_tokens) && p.max_tokens > 0 && p.max_tokens <= 8192)
  )
    throw new InvalidRequestError('max_tokens must be an integer in 1..8192');
}

function finish(r: GenerateResult['finishReason']): FinishReason {
  return r === 'length' ? 'length' : r === 'abort' ? 'abort' : 'stop';
}

/** Grounding for `wrapEngine`: the same retrieval, guard and prompt as the widget. */
export interface Grounding {
  retriever: Retriever;
  /** Where kb.json came from, for making its relative citation URLs absolute. */
  kbUrl?: string;
  lang?: AnswerLang;
}

/** The default temperature of grounded answers, as the widget's. */
export const GROUNDED_TEMPERATURE = 0.3;

/**
 * Wraps any `ChatEngine` in the OpenAI-style surface (also used by tests with a real engine).
 * With `grounding`, the last user message is answered through the widget's pipeline
 * (src/answer): guard, retrieval, numbered sources, output check, citations.
 */
export function wrapEngine(
  engine: ChatEngine,
  info: ModelInfo,
  backend: BackendDecision,
  grounding?: Grounding,
): Dure {
  let n = 0;
  const newId = () => `chatcmpl-dure-${Date.now().toString(36)}-${(n++).toString(36)}`;
  const request = (p: ChatCompletionCreateParams) => ({
    messages: p.messages,
    ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
    ...(p.top_p !== undefined ? { topP: p.top_p } : {}),
    ...(p.max_tokens !== undefined ? { maxTokens: p.max_tokens } : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    ...(p.stop !== undefined ? { stop: typeof p.stop === 'string' ? [p.stop] : p.stop } : {}),
    ...(p.signal ? { signal: p.signal } : {}),
  });

  const ungrounded: GroundedFields = { citations: [], refused: false, refusal_reason: null };
  const fields = (a: GroundedAnswer): GroundedFields => ({
    citations: a.citations.map((c) => {
      const url = grounding?.kbUrl ? resolveCitationUrl(c.url, grounding.kbUrl) : c.url;
      return { ...c, ...(url ? { url } : {}) };
    }),
    refused: a.refused,
    refusal_reason: a.refusalReason,
  });

  /** The widget's steps before generation, on the conversation's last question. */
  async function prepare(p: ChatCompletionCreateParams, g: Grounding) {
    const system = p.messages
      .filter((m) => m.role === 'system')
      .map((m) => m.content)
      .join('\n\n');
    const turns = p.messages.filter((m): m is ChatMessage & Turn => m.role !== 'system');
    const question = turns.at(-1);
    if (question?.role !== 'user')
      throw new InvalidRequestError('the last message must be the user’s question');
    const lang = g.lang ?? 'ko';
    const plan = await planAnswer(question.content, {
      retriever: g.retriever,
      guard: ruleGuard,
      systemPrompt: system,
      lang,
    });
    if (plan.kind === 'decline') return { kind: 'decline', decline: plan.answer } as const;
    const fit = await fitGroundedPrompt({
      plan,
      history: turns,
      contextLength: info.contextLength,
      maxTokens: p.max_tokens ?? 256,
      countTokens: engine.countTokens?.bind(engine) ?? estimateChatTokens,
      lang,
    });
    const req = {
      ...request(p),
      messages: fit.messages,
      maxTokens: fit.maxTokens,
      temperature: p.temperature ?? GROUNDED_TEMPERATURE,
    };
    return {
      kind: 'generate',
      plan,
      fit,
      req,
      finish: (text: string) => finishAnswer(plan, fit.passages, text, { guard: ruleGuard, lang }),
    } as const;
  }

  async function* stream(p: ChatCompletionCreateParams): AsyncGenerator<ChatCompletionChunk> {
    const id = newId();
    const created = Math.floor(Date.now() / 1000);
    const chunk = (
      delta: ChatCompletionChunk['choices'][0]['delta'],
      fr: FinishReason | null,
    ): ChatCompletionChunk => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: info.name,
      choices: [{ index: 0, delta, finish_reason: fr }],
    });
    yield chunk({ role: 'assistant' }, null);
    const prepared = grounding ? await prepare(p, grounding) : null;
    if (prepared?.kind === 'decline') {
      yield chunk({ content: prepared.decline.content }, null);
      yield { ...chunk({}, 'stop'), ...fields(prepared.decline) };
      return;
    }
    const gen = engine.generate(prepared ? prepared.req : request(p));
    let text = '';
    for (;;) {
      const r = await gen.next();
      if (r.done) {
        const last = chunk({}, finish(r.value.finishReason));
        if (!prepared) {
          yield last;
          return;
        }
        const a = prepared.finish(r.value.text || text);
        yield { ...last, ...fields(a), ...(a.refused ? { replace_content: a.content } : {}) };
        return;
      }
      text += r.value.text;
      if (r.value.text) yield chunk({ content: r.value.text }, null);
    }
  }

  async function create(
    p: ChatCompletionCreateParams & { stream: true },
  ): Promise<AsyncIterable<ChatCompletionChunk>>;
  async function create(p: ChatCompletionCreateParams & { stream?: false }): Promise<ChatCompletion>;
  async function create(
    p: ChatCompletionCreateParams,
  ): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion> {
    validate(p);
    // Already cancelled: answer nothing rather than start work nobody waits for.
    if (p.signal?.aborted && !p.stream)
      return completion({ text: '', ids: [], finishReason: 'abort', promptTokens: 0, completionTokens: 0 });
    if (p.stream) return stream(p);
    const prepared = grounding ? await prepare(p, grounding) : null;
    if (prepared?.kind === 'decline') {
      const d = prepared.decline;
      return completion(
        { text: d.content, ids: [], finishReason: 'stop', promptTokens: 0, completionTokens: 0 },
        fields(d),
      );
    }
    const gen = engine.generate(prepared ? prepared.req : request(p));
    let r = await gen.next();
    while (!r.done) r = await gen.next();
    if (!prepared) return completion(r.value);
    const a = prepared.finish(r.value.text);
    return completion({ ...r.value, text: a.content }, fields(a));
  }

  function completion(res: GenerateResult, grounded: GroundedFields = ungrounded): ChatCompletion {
    return {
      id: newId(),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: info.name,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: res.text },
          finish_reason: finish(res.finishReason),
        },
      ],
      usage: {
        prompt_tokens: res.promptTokens,
        completion_tokens: res.completionTokens,
        total_tokens: res.promptTokens + res.completionTokens,
      },
      ...grounded,
    };
  }

  return {
    chat: { completions: { create } },
    info,
    backend,
    dispose: () => engine.dispose(),
  };
}

/**
 * Probes the device, downloads and verifies the model (or reuses the stored copy), and returns
 * an OpenAI-style client.
 * @throws {import('./runtime.ts').NoBackendError} when nothing on this device can run the model.
 * @throws {import('../model-manager/errors.ts').ModelIntegrityError} on a SHA-256 mismatch.
 * @throws {import('../model-manager/errors.ts').ModelQuotaError} when storage is full.
 * @throws {InvalidRequestError} when an option is malformed (before anything is downloaded).
 */
export async function createDure(opts: StartOptions & GroundingOptions): Promise<Dure> {
  checkStartOptions(opts);
  // The knowledge base first: it is small, and a wrong one should fail before a large download.
  const k = opts.kb
    ? await loadKnowledgeBase(opts.kb, {
        ...(opts.kbSha256 ? { sha256: opts.kbSha256 } : {}),
        ...(opts.allowedOrigins ? { allowedOrigins: opts.allowedOrigins } : {}),
      })
    : null;
  const started = await startEngine(opts);
  return wrapEngine(
    started.engine,
    started.info,
    started.decision,
    k ? { retriever: new Bm25Retriever(k.kb.passages), kbUrl: k.url, lang: opts.lang ?? 'ko' } : undefined,
  );
}

export interface GroundingOptions {
  /** kb.json URL (same origin or `allowedOrigins`): answers are grounded on it and cite it. */
  kb?: string;
  /** Pinned SHA-256 of the knowledge base's passages. */
  kbSha256?: string;
  /** Language of refusal and out-of-scope messages (default ko). */
  lang?: AnswerLang;
}
