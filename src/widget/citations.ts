/**
 * Citations under an answer, as Markdown for the same sanitiser as model output
 * (src/safety/markdown.ts): knowledge-base titles, sections and URLs are untrusted text too.
 * Titles are escaped so they stay text; the URL goes in as a link destination, and the sanitiser
 * keeps it a link only when it is http(s) or mailto (javascript:, data: and relative ones are shown
 * as text).
 */
import type { Citation } from '../answer/grounded-answer.ts';
import { sourceLabel } from '../answer/grounded-answer.ts';
import { renderMarkdown } from '../safety/markdown.ts';

/** Every ASCII punctuation mark backslash-escaped, newlines flattened: Markdown shows it as typed. */
export function escapeMarkdown(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/[!-/:-@[-`{-~]/g, '\\$&');
}

export function citationMarkdown(c: Citation, lang: 'ko' | 'en'): string {
  const label = escapeMarkdown(sourceLabel(c));
  const date = c.effectiveDate
    ? ` (${lang === 'ko' ? '시행' : 'effective'} ${escapeMarkdown(c.effectiveDate)})`
    : '';
  // `<…>` destinations end at the first `>`; percent-encode what would end or break them.
  const dest = c.url?.replace(/[<>\s]/g, (ch) => encodeURIComponent(ch));
  return dest ? `[${label}](<${dest}>)${date}` : `${label}${date}`;
}

/** Sanitised HTML for one citation line. */
export function renderCitation(c: Citation, lang: 'ko' | 'en'): string {
  return renderMarkdown(citationMarkdown(c, lang));
}
