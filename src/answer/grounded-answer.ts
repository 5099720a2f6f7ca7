/**
 * One grounded, guarded answer (issue 17 items 3, 4, 6): the steps the widget, the SDK and
 * `dure ask` all take, so the command line answers exactly as the widget does.
 *
 *   guard.checkInput → refuse/support: no generation
 *   retrieve(k) → nothing above the threshold: decline as out of scope, no generation
 *   prompt with the passages as numbered sources → generate (the caller's engine)
 *   guard.checkOutput → refused: the refusal message replaces the answer
 *   citations: the [n] the answer used (else the top passage) → {source, section, url, date}
 *
 * Generation is the caller's (the widget streams it, the CLI runs the Node engine), so the steps
 * are split into `planAnswer` (before) and `finishAnswer` (after); `answerQuestion` runs all of
 * them for callers that do not stream. Platform-neutral: no DOM, no `node:`.
 */
import type { ChatMessage } from '../engine/api.ts';
import type { Guard, GuardVerdict } from '../guard/types.ts';
import { ruleGuard } from '../guard/rule-guard.ts';
import type { Retriever, ScoredPassage } from '../knowledge/retriever.ts';
import type { Passage } from '../knowledge/types.ts';
import { fitPrompt, type FitResult, type Turn } from './prompt-fit.ts';

export type AnswerLang = 'ko' | 'en';

/**
 * Why an answer is not the model's: `out_of_scope` (nothing in the knowledge base answers it) or
 * `harmful` (the guard refused the question or the generated answer, or the question speaks of
 * self-harm and the help-line message is shown instead — the JSON schema has no third
 * value, and either way the citizen reads a fixed message, not a generated one).
 */
export type RefusalReason = 'out_of_scope' | 'harmful';

/** A numbered source under the answer. */
export interface Citation {
  /** The number the prompt gave the passage ([n]). */
  n: number;
  /** The file name as given to `dure kb build`. */
  source: string;
  title: string;
  section: string;
  /** The document's URL with the section's anchor, as the knowledge base states it (unchecked). */
  url?: string;
  effectiveDate?: string;
}

export interface GroundedAnswer {
  /** What the citizen reads: the answer, or the refusal / out-of-scope / help-line message. */
  content: string;
  citations: Citation[];
  refused: boolean;
  refusalReason: RefusalReason | null;
  /** The guard's verdict when it intervened (input or output), for logs and the SDK. */
  verdict?: GuardVerdict;
}

/** Said instead of guessing when the knowledge base has nothing on the question. */
export const OUT_OF_SCOPE_MESSAGE = {
  ko: '죄송합니다. 이 질문은 제가 안내할 수 있는 민원 자료에 없는 내용입니다. 담당 부서나 상담원에게 문의해 주세요.',
  en: 'Sorry, this question is not covered by the service information I can answer from. Please contact the office or an agent.',
} as const;

/** How the model is told to use the sources (kept short: the demo model has 512 tokens of context). */
export const GROUNDING_INSTRUCTION = {
  ko: '아래 [자료]에 있는 내용으로만 답하세요. 답에 사용한 자료의 번호를 [1]처럼 붙이세요. 자료에 없으면 모른다고 답하세요.',
  en: 'Answer only from the [Sources] below. Cite the numbers of the sources you used, like [1]. If the sources do not say, say you do not know.',
} as const;

/** Retrieval depth: three passages are what the issue asks and what fits a small context. */
export const DEFAULT_K = 3;

/** Passage text is cut to this many characters when the whole does not fit the context. */
const MIN_SOURCE_CHARS = 80;

export interface AnswerSettings {
  /** Absent: not grounded (no out-of-scope decision, no sources, no citations). */
  retriever?: Retriever | null;
  guard?: Guard;
  /** The portal's own system prompt (persona, tone). */
  systemPrompt?: string;
  k?: number;
  lang?: AnswerLang;
}

export type AnswerPlan =
  | { kind: 'decline'; answer: GroundedAnswer }
  | {
      kind: 'generate';
      question: string;
      /** Retrieved passages, best first (empty when not grounded). */
      passages: Passage[];
      /** The system prompt without the sources (what the output check compares leaks against). */
      instructions: string;
      grounded: boolean;
    };

const declined = (reason: RefusalReason, message: string, verdict?: GuardVerdict): AnswerPlan => ({
  kind: 'decline',
  answer: {
    content: message,
    citations: [],
    refused: true,
    refusalReason: reason,
    ...(verdict ? { verdict } : {}),
  },
});

/** Guard and retrieval: what to do with `question` before any generation. */
export async function planAnswer(question: string, settings: AnswerSettings): Promise<AnswerPlan> {
  const lang = settings.lang ?? 'ko';
  const guard = settings.guard ?? ruleGuard;
  const verdict = guard.checkInput(question);
  if (verdict.action !== 'allow') return declined('harmful', verdict.message[lang], verdict);
  const retriever = settings.retriever;
  const base = settings.systemPrompt?.trim() ?? '';
  if (!retriever) return { kind: 'generate', question, passages: [], instructions: base, grounded: false };
  const hits: ScoredPassage[] = await retriever.retrieve(question, settings.k ?? DEFAULT_K);
  if (hits.length === 0) return declined('out_of_scope', OUT_OF_SCOPE_MESSAGE[lang]);
  const instructions = [base, GROUNDING_INSTRUCTION[lang]].filter(Boolean).join('\n\n');
  return { kind: 'generate', question, passages: hits.map((h) => h.passage), instructions, grounded: true };
}

/** "title › section" (the section alone when it is the title). */
export function sourceLabel(p: Pick<Passage, 'title' | 'section'>): string {
  return p.section && p.section !== p.title ? `${p.title} › ${p.section}` : p.title;
}

/** The system prompt carrying `passages` as numbered sources, each cut to `maxChars`. */
export function groundedSystemPrompt(
  instructions: string,
  passages: readonly Passage[],
  lang: AnswerLang = 'ko',
  maxChars = Infinity,
): string {
  if (passages.length === 0) return instructions;
  const head = lang === 'ko' ? '[자료]' : '[Sources]';
  const sources = passages.map((p, i) => {
    const text = p.text.length > maxChars ? `${p.text.slice(0, maxChars)}…` : p.text;
    return `[${i + 1}] ${sourceLabel(p)}\n${text}`;
  });
  return `${instructions}\n\n${head}\n${sources.join('\n\n')}`;
}

export interface GroundedFit extends FitResult {
  /** The passages the prompt carries, numbered [1..] in this order (a prefix of the plan's). */
  passages: Passage[];
}

/**
 * The prompt for a `generate` plan that fits the context: all passages if they fit, else fewer,
 * else the best one cut shorter (a small model's context is small). Earlier turns of `history`
 * are dropped before sources are (prompt-fit.ts).
 * @throws {import('../protocol/errors.ts').ContextOverflowError} when not even the question fits.
 */
export async function fitGroundedPrompt(req: {
  plan: Extract<AnswerPlan, { kind: 'generate' }>;
  history: readonly Turn[];
  contextLength: number;
  maxTokens: number;
  countTokens: (messages: ChatMessage[]) => number | Promise<number>;
  lang?: AnswerLang;
}): Promise<GroundedFit> {
  const { plan } = req;
  const lang = req.lang ?? 'ko';
  const attempt = (passages: Passage[], maxChars = Infinity) =>
    fitPrompt({
      systemPrompt: groundedSystemPrompt(plan.instructions, passages, lang, maxChars),
      history: req.history,
      contextLength: req.contextLength,
      maxTokens: req.maxTokens,
      countTokens: req.countTokens,
    });
  // Keep room for the answer: a prompt that fits only by leaving it a few tokens is not a fit.
  const roomy = (f: FitResult) => f.maxTokens >= Math.min(req.maxTokens, Math.floor(req.contextLength / 4));
  for (let n = plan.passages.length; n >= 1; n--) {
    const passages = plan.passages.slice(0, n);
    const fit = await attempt(passages).catch(() => null);
    if (fit && roomy(fit)) return { ...fit, passages };
  }
  const best = plan.passages.slice(0, 1);
  for (let chars = Math.floor((best[0]?.text.length ?? 0) / 2); chars >= MIN_SOURCE_CHARS; chars >>= 1) {
    const fit = await attempt(best, chars).catch(() => null);
    if (fit && roomy(fit)) return { ...fit, passages: best };
  }
  // Last resort: the shortest source; fitPrompt drops history or throws if even that cannot fit.
  return { ...(await attempt(best, MIN_SOURCE_CHARS)), passages: best };
}

/** Source numbers the answer cites ([1], [2, 3], [1][3]) that exist, in order of first use. */
export function citedNumbers(answer: string, count: number): number[] {
  const seen: number[] = [];
  for (const m of answer.matchAll(/\[(\d{1,2}(?:\s*[,，]\s*\d{1,2})*)\]/g)) {
    for (const part of m[1]!.split(/[,，]/)) {
      const n = Number(part.trim());
      if (n >= 1 && n <= count && !seen.includes(n)) seen.push(n);
    }
  }
  return seen;
}

export function toCitation(p: Passage, n: number): Citation {
  const c: Citation = { n, source: p.source, title: p.title, section: p.section };
  if (p.url) c.url = p.anchor ? `${p.url.replace(/#.*$/, '')}#${p.anchor}` : p.url;
  if (p.effective_date) c.effectiveDate = p.effective_date;
  return c;
}

/**
 * The citations of an answer: the sources it cites by number, or the top passage when it cites
 * none (the answer was grounded on it either way).
 */
export function citationsFor(answer: string, passages: readonly Passage[]): Citation[] {
  if (passages.length === 0) return [];
  const used = citedNumbers(answer, passages.length);
  const ns = used.length > 0 ? used : [1];
  return ns.map((n) => toCitation(passages[n - 1]!, n));
}

/** Output check and citations for a generated `text` (the prompt carried `passages`). */
export function finishAnswer(
  plan: Extract<AnswerPlan, { kind: 'generate' }>,
  passages: readonly Passage[],
  text: string,
  settings: Pick<AnswerSettings, 'guard' | 'lang'> = {},
): GroundedAnswer {
  const lang = settings.lang ?? 'ko';
  const guard = settings.guard ?? ruleGuard;
  const context = [plan.question, ...passages.map((p) => `${sourceLabel(p)}\n${p.text}`)].join('\n');
  const verdict = guard.checkOutput(text, {
    ...(plan.instructions ? { systemPrompt: plan.instructions } : {}),
    context,
  });
  if (verdict.action !== 'allow') {
    return {
      content: verdict.message[lang],
      citations: [],
      refused: true,
      refusalReason: 'harmful',
      verdict,
    };
  }
  return { content: text, citations: citationsFor(text, passages), refused: false, refusalReason: null };
}

/**
 * The conversation without refused exchanges: a refused question (a jailbreak, a harmful request)
 * must not reach the model on the next turn, and a fixed refusal is not an answer to imitate.
 */
export function withoutRefusedTurns<T extends Turn & { refused?: boolean }>(history: readonly T[]): T[] {
  return history.filter((m, i) => !m.refused && !(m.role === 'user' && history[i + 1]?.refused));
}

export interface AnswerRun extends AnswerSettings {
  /** Turns before the question (the widget's conversation); the CLI asks each question alone. */
  history?: readonly Turn[];
  contextLength: number;
  maxTokens: number;
  countTokens: (messages: ChatMessage[]) => number | Promise<number>;
  /** Runs the model on the fitted prompt and returns the whole text. */
  generate: (messages: ChatMessage[], maxTokens: number) => Promise<string>;
}

/** The whole pipeline for one question, for callers that do not stream (`dure ask`, the SDK). */
export async function answerQuestion(question: string, run: AnswerRun): Promise<GroundedAnswer> {
  const plan = await planAnswer(question, run);
  if (plan.kind === 'decline') return plan.answer;
  const fit = await fitGroundedPrompt({
    plan,
    history: [...(run.history ?? []), { role: 'user', content: question }],
    contextLength: run.contextLength,
    maxTokens: run.maxTokens,
    countTokens: run.countTokens,
    lang: run.lang ?? 'ko',
  });
  const text = await run.generate(fit.messages, fit.maxTokens);
  return finishAnswer(plan, fit.passages, text, run);
}
