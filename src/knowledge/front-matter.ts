/**
 * Markdown front matter (`---` … `---` at the top of a file) read with the `yaml` package
 * (YAML 1.2 core schema: dates stay strings, aliases refused), keeping only the fields a
 * knowledge base uses: title, url, effective_date, valid_until.
 */
import { parse } from 'yaml';
import { KnowledgeSourceError } from '../protocol/errors.ts';
import type { DocumentMeta } from './types.ts';

const FENCE = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Longest title or URL kept; longer values are a mistake, not content. */
export const MAX_META_CHARS = 1024;

/** Splits front matter from the body. @throws {KnowledgeSourceError} on malformed front matter. */
export function splitFrontMatter(text: string, source: string): { meta: DocumentMeta; body: string } {
  const m = FENCE.exec(text);
  if (!m) return { meta: {}, body: text.replace(/^\uFEFF/, '') };
  let data: unknown;
  try {
    data = parse(m[1]!, { schema: 'core', maxAliasCount: 0, prettyErrors: false });
  } catch (e) {
    throw new KnowledgeSourceError(`${source}: front matter is not valid YAML (${(e as Error).message})`, {
      cause: e,
    });
  }
  if (data === null || data === undefined) return { meta: {}, body: text.slice(m[0].length) };
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new KnowledgeSourceError(`${source}: front matter must be key: value lines`);
  }
  return { meta: readMeta(data as Record<string, unknown>, source), body: text.slice(m[0].length) };
}

/**
 * Picks and checks the knowledge-base fields of a record (front matter, JSON record, HTML meta).
 * @throws {KnowledgeSourceError} for a field of the wrong type or a date that is not YYYY-MM-DD.
 */
export function readMeta(record: Record<string, unknown>, source: string): DocumentMeta {
  const meta: DocumentMeta = {};
  for (const key of ['title', 'url'] as const) {
    const v = record[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || v.length > MAX_META_CHARS) {
      throw new KnowledgeSourceError(
        `${source}: ${key} must be text of at most ${MAX_META_CHARS} characters`,
      );
    }
    if (v.trim()) meta[key] = v.trim();
  }
  for (const key of ['effective_date', 'valid_until'] as const) {
    const v = record[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || !isIsoDate(v)) {
      throw new KnowledgeSourceError(`${source}: ${key} must be a date written YYYY-MM-DD`);
    }
    meta[key] = v;
  }
  return meta;
}

/** True for a real calendar date written YYYY-MM-DD. */
export function isIsoDate(s: string): boolean {
  if (!ISO_DATE.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}
