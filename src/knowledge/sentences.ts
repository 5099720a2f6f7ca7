/**
 * Sentences of a passage, and whether an answer states one of them: what "answer accuracy"
 * means for the grounded demo (issue #17, item 7) — the answer carries a whole sentence of the
 * passage that answers the question, as a small model that copies its source would write it.
 */

/** Sentences shorter than this (list markers, stray fragments) do not count as an answer. */
export const MIN_SENTENCE_CHARS = 6;

const squeeze = (s: string) => s.replace(/\s+/gu, ' ').trim();

/** A passage's sentences: split after . ? ! followed by whitespace, whitespace collapsed. */
export function splitSentences(text: string): string[] {
  return squeeze(text)
    .split(/(?<=[.?!])\s+/u)
    .filter((s) => s.length >= MIN_SENTENCE_CHARS);
}

/** True when `answer` contains one of `passageText`'s sentences verbatim (whitespace-insensitive). */
export function statesSentenceOf(answer: string, passageText: string): boolean {
  const a = squeeze(answer);
  return splitSentences(passageText).some((s) => a.includes(s));
}
