/**
 * Fitting a conversation into the model's context (the policy README documents): the system prompt
 * and the newest question are always sent; earlier turns go in newest first while they fit; room
 * for the answer (max-tokens, at most half the context) is kept free. Tokens are counted with the
 * engine's own tokenizer and chat template (`ChatEngine.countTokens`), or with a conservative
 * estimate (`estimateChatTokens`) for an engine without one. Turns that failed (an error, or an
 * empty answer) are never resent, also when an older version stored them.
 */
import type { ChatMessage } from '../engine/api.ts';
import { ContextOverflowError } from '../protocol/errors.ts';

/** What the fitter needs of a stored message (history.ts `StoredMessage` has it). */
export interface Turn {
  role: 'user' | 'assistant';
  content: string;
  finish?: 'stop' | 'length' | 'abort' | 'eos' | 'error';
}

/** Fewest answer tokens worth starting when the question alone nearly fills the context. */
export const MIN_ANSWER_TOKENS = 16;

/** An answer the model may see again: it ended without an error and says something. */
function usable(answer: Turn | undefined): answer is Turn {
  return answer?.role === 'assistant' && answer.finish !== 'error' && answer.content.trim().length > 0;
}

/**
 * The conversation as the model should see it: every earlier question that has a usable answer,
 * paired with it, in order; then the newest question (the last message, which must be the
 * citizen's). Unanswered or failed questions, empty and failed answers are left out, so roles
 * still alternate (some chat templates refuse anything else).
 * @throws {TypeError} when the last message is not a question.
 */
export function answeredTurns(history: readonly Turn[]): {
  pairs: [ChatMessage, ChatMessage][];
  question: ChatMessage;
} {
  const last = history.at(-1);
  if (last?.role !== 'user') throw new TypeError('the conversation must end with a question');
  const pairs: [ChatMessage, ChatMessage][] = [];
  for (let i = 0; i < history.length - 1; i++) {
    const q = history[i] as Turn;
    const a = history[i + 1];
    if (q.role !== 'user' || !usable(a)) continue;
    pairs.push([
      { role: 'user', content: q.content },
      { role: 'assistant', content: a.content },
    ]);
    i++;
  }
  return { pairs, question: { role: 'user', content: last.content } };
}

export interface FitRequest {
  systemPrompt: string;
  /** The stored conversation, ending with the question to answer. */
  history: readonly Turn[];
  /** The engine's context window in tokens (`ModelInfo.contextLength`). */
  contextLength: number;
  /** The answer's token limit the portal configured (`max-tokens`). */
  maxTokens: number;
  /** Prompt tokens of `messages` with the chat template applied. */
  countTokens: (messages: ChatMessage[]) => number | Promise<number>;
}

export interface FitResult {
  messages: ChatMessage[];
  promptTokens: number;
  /** The answer's token limit to ask for: `maxTokens`, or what the context has left if less. */
  maxTokens: number;
  /** Earlier question-and-answer turns left out to make room (failed ones not counted). */
  droppedTurns: number;
}

/**
 * Builds the prompt that fits: system prompt, as many of the newest answered turns as fit, the
 * question; `reserve = min(maxTokens, contextLength / 2)` tokens stay free for the answer. Turn
 * counts are found by binary search (a few `countTokens` calls, however long the history).
 * @throws {ContextOverflowError} when the system prompt and the question alone leave fewer than
 *   `MIN_ANSWER_TOKENS` (or `maxTokens`, if smaller) for the answer.
 */
export async function fitPrompt(req: FitRequest): Promise<FitResult> {
  const { pairs, question } = answeredTurns(req.history);
  const system: ChatMessage[] = req.systemPrompt ? [{ role: 'system', content: req.systemPrompt }] : [];
  const ctx = Math.max(1, Math.floor(req.contextLength));
  const maxTokens = Math.max(1, Math.floor(req.maxTokens));
  const reserve = Math.max(1, Math.min(maxTokens, Math.floor(ctx / 2)));
  const budget = ctx - reserve;
  const build = (keep: number): ChatMessage[] => [
    ...system,
    ...pairs.slice(pairs.length - keep).flat(),
    question,
  ];
  const counted = new Map<number, number>();
  const count = async (keep: number): Promise<number> => {
    let n = counted.get(keep);
    if (n === undefined) {
      n = await req.countTokens(build(keep));
      counted.set(keep, n);
    }
    return n;
  };
  const done = (keep: number, tokens: number): FitResult => ({
    messages: build(keep),
    promptTokens: tokens,
    maxTokens: Math.min(maxTokens, ctx - tokens),
    droppedTurns: pairs.length - keep,
  });

  // Usually everything fits: one count.
  const all = await count(pairs.length);
  if (all <= budget) return done(pairs.length, all);
  // Otherwise the most recent turns that fit (more turns never take fewer tokens).
  let lo = 0;
  let hi = pairs.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((await count(mid)) <= budget) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (best >= 0) return done(best, await count(best));
  // Not even the question with the full reserve: answer in what is left, if that is worth it.
  const alone = await count(0);
  if (ctx - alone >= Math.min(MIN_ANSWER_TOKENS, maxTokens)) return done(0, alone);
  throw new ContextOverflowError(
    `the question${system.length ? ' and the system prompt' : ''} take ${alone} tokens; ` +
      `the context holds ${ctx}, and the answer needs room too`,
  );
}

const utf8 = new TextEncoder();
/** Tokens a chat template may add per message (role markers, separators). */
export const ESTIMATE_PER_MESSAGE = 8;
/** Tokens a template may add once (BOS, a default system text such as a date line). */
export const ESTIMATE_PER_PROMPT = 64;

/**
 * An upper bound on prompt tokens without a tokenizer: byte-level BPE and SentencePiece with byte
 * fallback never make more tokens than the text has UTF-8 bytes (plus one for a leading space
 * marker), and templates add a bounded number per message. Very cautious for Korean (3 bytes a
 * syllable), so only for engines that cannot count (`ChatEngine.countTokens` absent).
 */
export function estimateChatTokens(messages: readonly ChatMessage[]): number {
  let n = ESTIMATE_PER_PROMPT;
  for (const m of messages)
    n += utf8.encode(m.role).length + utf8.encode(m.content).length + 1 + ESTIMATE_PER_MESSAGE;
  return n;
}

/** Drops a trailing unfinished character (U+FFFD) an engine may leave when the answer was cut. */
export function dropBrokenTail(text: string): string {
  return text.replace(/\uFFFD+$/u, '');
}
