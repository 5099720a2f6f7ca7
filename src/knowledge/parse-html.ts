/**
 * HTML → citable sections without a DOM (the builder runs in Node): h1–h6 open sections, scripts,
 * styles and other non-text elements are dropped with their content, remaining tags are removed
 * and entities decoded. The result is plain text only; it is shown later through src/safety's
 * sanitiser like any other text, so this is extraction, not sanitising.
 */
import { readMeta } from './front-matter.ts';
import type { DocumentMeta, ParsedDocument, Section } from './types.ts';

/** Elements whose content is never text a citizen reads. */
const DROPPED = /<(script|style|noscript|template|iframe|object|svg|math|head)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const BLOCK =
  /<\/?(p|div|section|article|main|header|footer|nav|aside|li|ul|ol|tr|table|br|dd|dt|dl|pre|blockquote|figure|figcaption|form|fieldset|address|h[1-6])\b[^>]*>/gi;
const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  middot: '·',
};

/** Plain text of an HTML fragment: dropped elements and comments removed, tags stripped, entities decoded. */
export function stripTags(html: string): string {
  return decodeEntities(
    html
      .replace(/<!--[\s\S]*?(?:-->|$)/g, '')
      .replace(/<[!?][^>]*>/g, '') // <!doctype …>, <?xml …?>, <![CDATA[ …
      .replace(DROPPED, '')
      // An unclosed <script> drops the rest of the input rather than leaking code as text.
      .replace(/<(script|style)\b[\s\S]*$/i, '')
      .replace(BLOCK, '\n')
      .replace(/<\/?[a-zA-Z][^>]*>/g, ''),
  )
    .replace(/[ \t\f\v\u00a0]+/g, ' ')
    .replace(/ *\n[\s]*/g, '\n')
    .trim();
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8});/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : '';
    }
    return NAMED[e.toLowerCase()] ?? m;
  });
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  return m ? decodeEntities(m[2] ?? m[3] ?? m[4] ?? '') : undefined;
}

/** Title, canonical URL and `<meta name="effective_date|valid_until">` from the head. */
function headMeta(html: string, source: string): DocumentMeta {
  const record: Record<string, unknown> = {};
  const title = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  if (title) record.title = stripTags(title[1]!);
  for (const tag of html.match(/<(meta|link)\b[^>]*>/gi) ?? []) {
    const name = attr(tag, 'name');
    if (name === 'effective_date' || name === 'valid_until') record[name] = attr(tag, 'content');
    if (/^<link/i.test(tag) && attr(tag, 'rel')?.toLowerCase() === 'canonical')
      record.url = attr(tag, 'href');
  }
  return readMeta(record, source);
}

/** Parses an HTML page. @throws {KnowledgeSourceError} for malformed meta dates. */
export function parseHtml(source: string, html: string): ParsedDocument {
  const meta = headMeta(html, source);
  const body = html.replace(/<!--[\s\S]*?(?:-->|$)/g, '').replace(DROPPED, '');
  const sections: Section[] = [];
  const path: { depth: number; text: string }[] = [];
  const heading = /<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1\s*>/gi;
  let last = 0;
  const push = (chunk: string) => {
    const text = stripTags(chunk);
    if (text) sections.push({ headings: path.map((h) => h.text), text });
  };
  for (const m of body.matchAll(heading)) {
    push(body.slice(last, m.index));
    const depth = Number(m[1]);
    while (path.length > 0 && path[path.length - 1]!.depth >= depth) path.pop();
    path.push({ depth, text: stripTags(m[2]!).replace(/\s+/g, ' ') });
    if (!meta.title && depth === 1) meta.title = path[path.length - 1]!.text;
    last = m.index + m[0].length;
  }
  push(body.slice(last));
  return { source, meta, sections };
}
