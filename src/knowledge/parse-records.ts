/** Plain text files and JSON record arrays → citable sections. */
import { KnowledgeSourceError } from '../protocol/errors.ts';
import { readMeta } from './front-matter.ts';
import type { ParsedDocument, Section } from './types.ts';

/** A text file is one section; its first line is the title when it is short and followed by a blank line. */
export function parseText(source: string, text: string): ParsedDocument {
  const body = text
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .trim();
  const m = /^([^\n]{1,120})\n\s*\n/.exec(body);
  const title = m ? m[1]!.trim() : undefined;
  const rest = m ? body.slice(m[0].length) : body;
  const sections: Section[] = rest ? [{ headings: title ? [title] : [], text: rest }] : [];
  return { source, meta: title ? { title } : {}, sections };
}

/**
 * A JSON array of records `{title?, url?, text|content, section?, effective_date?, valid_until?}`,
 * each record one section with its own url and dates.
 * @throws {KnowledgeSourceError} when the file is not such an array.
 */
export function parseJsonRecords(source: string, text: string): ParsedDocument {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new KnowledgeSourceError(`${source}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (!Array.isArray(data)) throw new KnowledgeSourceError(`${source}: expected a JSON array of records`);
  const sections: Section[] = [];
  data.forEach((record: unknown, i) => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new KnowledgeSourceError(`${source}: record ${i} is not an object`);
    }
    const r = record as Record<string, unknown>;
    const body = r.text ?? r.content;
    if (typeof body !== 'string') {
      throw new KnowledgeSourceError(`${source}: record ${i} has no "text" or "content" string`);
    }
    const meta = readMeta(r, `${source} record ${i}`);
    const heading = typeof r.section === 'string' && r.section.trim() ? r.section.trim() : meta.title;
    if (body.trim()) sections.push({ headings: heading ? [heading] : [], text: body.trim(), meta });
  });
  return { source, meta: {}, sections };
}
