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
import type { BackendDecision } from '../widget/backend.ts';
import { checkStartOptions, startEngine, type StartOptions } from './runtime.ts';
export { checkStartOptions };
import { InvalidRequestError } from '../protocol/errors.ts';
export { InvalidRequestError };

export { registerWebGpuEngine, NoBackendError, type DureProgress, type StartOptions } from './runtime.ts';
export { detectPii, maskPii, type PiiFinding } from '../safety/pii.ts';

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
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: 0; message: { role: 'assistant'; content: string }; finish_reason: FinishReason }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
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

/** Wraps any `ChatEngine` in the OpenAI-style surface (also used by tests with a real engine). */
export function wrapEngine(engine: ChatEngine, info: ModelInfo, backend: BackendDecision): Dure {
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
    const gen = engine.generate(request(p));
    for (;;) {
      const r = await gen.next();
      if (r.done) {
        yield chunk({}, finish(r.value.finishReason));
        return;
      }
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
    const gen = engine.generate(request(p));
    let r = await gen.next();
    while (!r.done) r = await gen.next();
    return completion(r.value);
  }

  function completion(res: GenerateResult): ChatCompletion {
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
export async function createDure(opts: StartOptions): Promise<Dure> {
  checkStartOptions(opts);
  const started = await startEngine(opts);
  return wrapEngine(started.engine, started.info, started.decision);
}
