/**
 * Markdown → citable sections: every heading opens a section whose path is the headings above it.
 * Blocks are read with marked's lexer (no HTML rendering) and reduced to plain text, one line per
 * paragraph, list item and table row, so sentence splitting sees real boundaries.
 */
import { Lexer, type Token, type Tokens } from 'marked';
import { splitFrontMatter } from './front-matter.ts';
import { stripTags } from './parse-html.ts';
import type { ParsedDocument, Section } from './types.ts';

/** Parses a Markdown file. @throws {KnowledgeSourceError} on malformed front matter. */
export function parseMarkdown(source: string, text: string): ParsedDocument {
  const { meta, body } = splitFrontMatter(text, source);
  const tokens = new Lexer({ gfm: true }).lex(body);
  const sections: Section[] = [];
  const path: { depth: number; text: string }[] = [];
  let lines: string[] = [];
  const flush = () => {
    const joined = lines.join('\n').trim();
    if (joined) sections.push({ headings: path.map((h) => h.text), text: joined });
    lines = [];
  };
  for (const token of tokens) {
    if (token.type === 'heading') {
      flush();
      const h = token as Tokens.Heading;
      while (path.length > 0 && path[path.length - 1]!.depth >= h.depth) path.pop();
      path.push({ depth: h.depth, text: inlineText(h.tokens).trim() });
      continue;
    }
    const t = blockText(token).trim();
    if (t) lines.push(t);
  }
  flush();
  // A document's first H1 is its title when the front matter names none.
  const firstH1 = tokens.find((t): t is Tokens.Heading => t.type === 'heading' && t.depth === 1);
  if (!meta.title && firstH1) meta.title = inlineText(firstH1.tokens).trim();
  return { source, meta, sections };
}

function blockText(token: Token): string {
  switch (token.type) {
    case 'space':
    case 'hr':
      return '';
    case 'code':
      return (token as Tokens.Code).text;
    case 'html':
      return stripTags((token as Tokens.HTML).text);
    case 'list':
      return (token as Tokens.List).items
        .map((item) => item.tokens.map(blockText).filter(Boolean).join(' '))
        .join('\n');
    case 'table': {
      const table = token as Tokens.Table;
      const row = (cells: Tokens.TableCell[]) => cells.map((c) => inlineText(c.tokens).trim()).join(' | ');
      return [row(table.header), ...table.rows.map(row)].join('\n');
    }
    case 'blockquote':
      return (token as Tokens.Blockquote).tokens.map(blockText).filter(Boolean).join('\n');
    default:
      return 'tokens' in token && Array.isArray(token.tokens)
        ? inlineText(token.tokens)
        : 'text' in token && typeof token.text === 'string'
          ? token.text
          : '';
  }
}

/** Plain text of inline tokens: emphasis, links and code keep their words, HTML loses its tags. */
function inlineText(tokens: Token[] | undefined): string {
  if (!tokens) return '';
  return tokens
    .map((t) => {
      if (t.type === 'br') return '\n';
      if (t.type === 'html') return stripTags((t as Tokens.HTML).text);
      if (t.type === 'image') return (t as Tokens.Image).text;
      if ('tokens' in t && Array.isArray(t.tokens) && t.tokens.length > 0) return inlineText(t.tokens);
      return 'text' in t && typeof t.text === 'string' ? decodeEntities(t.text) : '';
    })
    .join('');
}

function decodeEntities(s: string): string {
  // marked escapes &, <, >, " and ' in text tokens; undo that to get the words back.
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) =>
    e === 'amp' ? '&' : e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'quot' ? '"' : "'",
  );
}
