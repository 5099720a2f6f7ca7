/**
 * Training data for the grounded demo model (issue #17, item 7): the exact prompt the widget, the
 * SDK and `dure ask` send (src/answer: guard → BM25 retrieval → numbered sources fitted to the
 * context), and as the target the sentence of the cited passage that answers the question,
 * followed by its citation marker ("… 신고해야 합니다. [1]"). A model this small can at best copy;
 * the target teaches exactly that.
 *
 * Questions come from the Q&A set's training split (`split: "dev"`; the held-out split is never
 * read here) and from questions generated out of every knowledge-base passage (its headings and
 * sentences), so there are enough examples. Everything is deterministic: no randomness, no clock
 * beyond the retriever's validity check.
 */
import type { ChatMessage } from '../../src/engine/api.ts';
import { fitGroundedPrompt, planAnswer } from '../../src/answer/grounded-answer.ts';
import type { Retriever } from '../../src/knowledge/retriever.ts';
import { splitSentences as sentences } from '../../src/knowledge/sentences.ts';
import type { Passage } from '../../src/knowledge/types.ts';

export interface QaItem {
  id: string;
  question: string;
  source: string | null;
  section?: string;
  split?: string;
}

/** One training record: the fitted prompt (system turn with sources + question) and the target. */
export interface GroundedRecord {
  id: string;
  /** Which institution of the simulated federation holds it (by document, so data are non-IID). */
  institution: string;
  question: string;
  /** The system turn exactly as the pipeline fitted it (instructions + [자료] + sources). */
  system: string;
  /** The sentence to copy and its marker. */
  answer: string;
  origin: 'qa' | 'generated';
}

/** The split the model may learn from; every other split stays untouched. */
export const TRAINING_SPLIT = 'dev';

function bigrams(s: string): Set<string> {
  const t = s.replace(/\s+/gu, '');
  const out = new Set<string>();
  for (let i = 0; i + 1 < t.length; i++) out.add(t.slice(i, i + 2));
  return out;
}

/** The sentence of `text` sharing most character bigrams with `question` (ties: the earlier one). */
export function answerSentence(question: string, text: string): string {
  const q = bigrams(question);
  let best = '';
  let bestScore = -1;
  for (const s of sentences(text)) {
    let score = 0;
    for (const g of bigrams(s)) if (q.has(g)) score++;
    if (score > bestScore) {
      best = s;
      bestScore = score;
    }
  }
  return best;
}

/** Questions a citizen might ask about a passage, made from its headings and sentences. */
export function generatedQuestions(p: Passage): string[] {
  const topic = p.title.replace(/\s*(안내|신청 안내|발급 안내)$/u, '');
  const section = p.section !== p.title ? p.section : '';
  const qs = section
    ? [
        `${topic} ${section} 알려주세요`,
        `${topic} ${section}은 어떻게 되나요?`,
        `${section} 궁금해요`,
        `${topic} ${section} 문의드립니다`,
      ]
    : [`${topic} 알려주세요`, `${topic}이 뭐예요?`, `${topic} 궁금해요`];
  // One question per sentence from its first words, so each sentence is a target somewhere.
  for (const s of sentences(p.text)) {
    const words = s.split(/\s+/u).slice(0, 3).join(' ');
    qs.push(`${topic} ${words} 관련해서 알려주세요`);
  }
  return qs;
}

/** Institution of a document: three offices of the fictional city, each with its own documents. */
export function institutionOf(source: string): string {
  if (/^(jeonip|resident|seal|passport|car)/.test(source)) return 'civil';
  if (/^(basic-pension|childbirth|disaster|health)/.test(source)) return 'welfare';
  return 'environment';
}

export interface BuildOptions {
  retriever: Retriever;
  passages: readonly Passage[];
  qa: readonly QaItem[];
  contextLength: number;
  /** The answer budget the prompt is fitted with (the widget's max-tokens). */
  maxTokens: number;
  countTokens: (messages: ChatMessage[]) => number | Promise<number>;
}

const samePassage = (a: Passage, b: { source: string; section?: string }) =>
  a.source === b.source && (b.section === undefined || a.section === b.section);

/**
 * Prompt → target records. A question is kept only when its own passage is among the sources the
 * pipeline put into the prompt (else there is nothing right to copy); the marker is that source's
 * number.
 */
export async function groundedRecords(o: BuildOptions): Promise<GroundedRecord[]> {
  const out: GroundedRecord[] = [];
  const add = async (
    id: string,
    question: string,
    gold: { source: string; section?: string },
    origin: GroundedRecord['origin'],
  ) => {
    const plan = await planAnswer(question, { retriever: o.retriever, lang: 'ko' });
    if (plan.kind !== 'generate') return;
    const fit = await fitGroundedPrompt({
      plan,
      history: [{ role: 'user', content: question }],
      contextLength: o.contextLength,
      maxTokens: o.maxTokens,
      countTokens: o.countTokens,
    });
    const n = fit.passages.findIndex((p) => samePassage(p, gold));
    if (n < 0) return;
    const system = fit.messages.find((m) => m.role === 'system')?.content ?? '';
    const sentence = answerSentence(question, fit.passages[n]!.text);
    // The prompt may carry the passage cut short: only a sentence the model can see is a target.
    if (!sentence || !system.includes(sentence)) return;
    out.push({
      id,
      institution: institutionOf(gold.source),
      question,
      system,
      answer: `${sentence} [${n + 1}]`,
      origin,
    });
  };
  for (const item of o.qa) {
    if (item.split !== TRAINING_SPLIT || item.source === null) continue;
    await add(
      item.id,
      item.question,
      { source: item.source, ...(item.section ? { section: item.section } : {}) },
      'qa',
    );
  }
  for (const p of o.passages) {
    const qs = generatedQuestions(p);
    for (let i = 0; i < qs.length; i++)
      await add(`${p.id}/q${i}`, qs[i]!, { source: p.source, section: p.section }, 'generated');
  }
  return out;
}
