/**
 * Sections → passages of about 300–500 characters, cut on sentence boundaries so a passage never
 * ends mid-sentence (Korean sentences end in 다. 요. 까? and the like, all with ., ? or !; list
 * items and table rows are lines of their own).
 */
import type { DocumentMeta, ParsedDocument, Passage } from './types.ts';

export const PASSAGE_MIN_CHARS = 300;
export const PASSAGE_MAX_CHARS = 500;

/** A sentence, and whether it ends its line (a paragraph, list item or table row). */
export interface Sentence {
  text: string;
  endsLine: boolean;
}

/** Sentences and lines of a section, in order. A sentence longer than the maximum is cut on spaces. */
export function sentences(text: string): Sentence[] {
  const out: Sentence[] = [];
  for (const line of text.split(/\n+/)) {
    const parts = line
      .split(/(?<=[.!?。？！])\s+/)
      .map((s) => s.trim())
      .filter(Boolean)
      .flatMap((t) => (t.length <= PASSAGE_MAX_CHARS ? [t] : hardSplit(t)));
    parts.forEach((t, i) => out.push({ text: t, endsLine: i === parts.length - 1 }));
  }
  return out;
}

function hardSplit(s: string): string[] {
  const out: string[] = [];
  let rest = s;
  while (rest.length > PASSAGE_MAX_CHARS) {
    const cut = rest.lastIndexOf(' ', PASSAGE_MAX_CHARS);
    const at = cut > PASSAGE_MIN_CHARS / 2 ? cut : PASSAGE_MAX_CHARS;
    out.push(rest.slice(0, at).trim());
    rest = rest.slice(at).trim();
  }
  if (rest) out.push(rest);
  return out;
}

/** Packs sentences greedily into passages: a passage closes when the next sentence would pass the maximum. */
export function packSentences(parts: readonly Sentence[]): string[] {
  const out: string[] = [];
  let cur = '';
  let lineEnded = false;
  for (const s of parts) {
    if (cur && cur.length + 1 + s.text.length > PASSAGE_MAX_CHARS) {
      out.push(cur);
      cur = s.text;
    } else cur = cur ? `${cur}${lineEnded ? '\n' : ' '}${s.text}` : s.text;
    lineEnded = s.endsLine;
  }
  if (cur) out.push(cur);
  return out;
}

/** A heading as a URL fragment: lower case, spaces to hyphens, punctuation dropped (GitHub-style). */
export function slug(heading: string): string {
  return heading
    .normalize('NFC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .trim()
    .replace(/\s+/g, '-');
}

/** Every passage of a parsed document, numbered in document order. */
export function documentPassages(doc: ParsedDocument): Passage[] {
  const out: Passage[] = [];
  const docTitle = doc.meta.title ?? doc.source;
  for (const section of doc.sections) {
    const meta: DocumentMeta = { ...doc.meta, ...section.meta };
    const title = section.meta?.title ?? docTitle;
    const heading = section.headings[section.headings.length - 1] ?? title;
    for (const text of packSentences(sentences(section.text))) {
      const p: Passage = {
        id: `${doc.source}#${out.length}`,
        source: doc.source,
        title,
        section: heading,
        headings: section.headings,
        text,
      };
      if (meta.url) p.url = meta.url;
      if (section.headings.length > 0) p.anchor = slug(heading);
      if (meta.effective_date) p.effective_date = meta.effective_date;
      if (meta.valid_until) p.valid_until = meta.valid_until;
      out.push(p);
    }
  }
  return out;
}
