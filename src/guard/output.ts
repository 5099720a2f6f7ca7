/**
 * Checks on a generated answer before it is shown: leaked system prompt or chat-template
 * markers, other people's personal identifiers, and harmful instructions the model produced
 * despite the input check (or because of a disguised question).
 */
import { detectPii, type PiiFinding } from '../safety/pii.ts';
import type { NormalizedText } from './normalize.ts';

/** Chat-template tokens and prompt scaffolding a well-behaved answer never contains. */
const LEAK_MARKERS: readonly RegExp[] = [
  /<\|(?:im_start|im_end|system|user|assistant|begin_of_text|start_header_id|eot_id)\|>/i,
  /<<\/?SYS>>|\[\/?INST\]|<start_of_turn>|<end_of_turn>/,
  /\[ROOT\?ALL\]/i,
  /(?:my|the) (?:system prompt|initial instructions) (?:is|are|says?)\b/i,
  /(?:시스템 ?프롬프트|초기 ?지시문?|내 ?지시 ?사항)(?:은|는|의 내용은|:)/,
];

/** Runs of this many compact characters copied from the system prompt count as a leak. */
const LEAK_RUN = 24;

export function promptLeak(text: NormalizedText, systemPrompt: string | undefined): string | null {
  for (const re of LEAK_MARKERS) {
    const m = re.exec(text.text);
    if (m) return `marker:${m[0]}`;
  }
  if (!systemPrompt) return null;
  const sys = systemPrompt
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]/gu, '');
  for (let i = 0; i + LEAK_RUN <= sys.length; i += 4) {
    const run = sys.slice(i, i + LEAK_RUN);
    if (text.compact.includes(run)) return `system-prompt:${run}`;
  }
  return null;
}

/** Kinds that identify one person outright; an answer has no business printing them. */
const ALWAYS_PERSONAL = new Set<PiiFinding['kind']>(['rrn', 'frn', 'card', 'passport', 'account']);

/**
 * Personal identifiers in the answer that did not come from `context` (the question, retrieved
 * passages). Landline numbers and e-mail addresses are how offices are reached and are allowed;
 * mobile numbers are a person's.
 */
export function foreignPii(answer: string, context: string | undefined): PiiFinding[] {
  const digits = (s: string) => s.replace(/\D/g, '');
  const known = new Set(
    context ? detectPii(context).map((f) => (f.kind === 'email' ? f.value : digits(f.value))) : [],
  );
  return detectPii(answer).filter((f) => {
    const key = f.kind === 'email' ? f.value : digits(f.value);
    if (known.has(key)) return false;
    if (ALWAYS_PERSONAL.has(f.kind)) return true;
    return f.kind === 'phone' && /^(?:\+?82)?0?1[016789]/.test(digits(f.value));
  });
}
