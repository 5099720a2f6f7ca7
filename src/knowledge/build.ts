/**
 * Source files → a knowledge base: each file parsed by its extension, split into passages, files
 * taken in name order so the same folder always gives the same kb.json.
 */
import { KnowledgeSourceError } from '../protocol/errors.ts';
import { makeKnowledgeBase, type KnowledgeBaseFile } from './kb-file.ts';
import { parseHtml } from './parse-html.ts';
import { parseMarkdown } from './parse-markdown.ts';
import { parseJsonRecords, parseText } from './parse-records.ts';
import { documentPassages } from './passages.ts';
import type { ParsedDocument } from './types.ts';

/** A source file as given to the builder: its name (relative path, '/' separators) and its text. */
export interface SourceFile {
  name: string;
  text: string;
}

const PARSERS: Record<string, (source: string, text: string) => ParsedDocument> = {
  md: parseMarkdown,
  markdown: parseMarkdown,
  html: parseHtml,
  htm: parseHtml,
  txt: parseText,
  json: parseJsonRecords,
};

/** The extensions the builder reads; other files in a folder are skipped. */
export const SOURCE_EXTENSIONS: readonly string[] = Object.keys(PARSERS);

export function isSourceFile(name: string): boolean {
  return Object.hasOwn(PARSERS, extension(name));
}

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** Parses one file by its extension. @throws {KnowledgeSourceError} for an unknown kind or bad content. */
export function parseSourceFile(file: SourceFile): ParsedDocument {
  const parse = PARSERS[extension(file.name)];
  if (!parse) {
    throw new KnowledgeSourceError(`${file.name}: not a knowledge source (${SOURCE_EXTENSIONS.join(', ')})`);
  }
  return parse(file.name, file.text);
}

/** Builds the knowledge base of these files. @throws {KnowledgeSourceError} */
export function buildKnowledgeBase(files: readonly SourceFile[]): KnowledgeBaseFile {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.name === sorted[i - 1]!.name) {
      throw new KnowledgeSourceError(`${sorted[i]!.name} is given twice`);
    }
  }
  return makeKnowledgeBase(sorted.flatMap((f) => documentPassages(parseSourceFile(f))));
}
