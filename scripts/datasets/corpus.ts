/**
 * The demo model's language-modelling set, derived reproducibly from ../shared/corpus (read in
 * place, never copied into the repository; issue #8, item 5):
 *
 * 1. clean: NFC, whitespace collapsed, Markdown/page furniture dropped (page numbers, tables of
 *    contents, rules, lines with almost no Hangul), paragraphs cut by a page break re-joined, and
 *    repeated lines (running headers) kept once;
 * 2. segment: paragraphs packed into chunks of at most `maxSeqLen` tokens of the demo tokenizer,
 *    split at sentence ends when a paragraph alone is too long;
 * 3. split: a chunk goes to validation when a hash of its text falls in the lowest
 *    `validationPercent` (default 5) of 100 buckets — stable when the corpus grows.
 *
 * Without the corpus, Dure's own Korean fixtures are used and the result says so (`source`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { textExample } from '../../src/training/examples.ts';
import { DureError } from '../../src/engine/errors.ts';
import type { Tokenizer } from '../../src/engine/tokenizer/index.ts';
import { KO_LINES } from '../../src/testing/fixtures/ko-lines.ts';
import { corpusDir } from '../../src/testing/test-models.ts';
import type { TrainExample } from '../../src/training/api.ts';

/** Bad segmentation options. */
export class CorpusDatasetError extends DureError {
  override name = 'CorpusDatasetError';
  constructor(message: string) {
    super('CORPUS_DATASET', message);
  }
}

const HANGUL = /[\uAC00-\uD7A3]/g;
/** A paragraph that ends a sentence (so a page break after it is a real paragraph break). */
const SENTENCE_END = /[.!?。”"’')\]」』]$/u;

function hangulCount(s: string): number {
  return s.match(HANGUL)?.length ?? 0;
}

/** One line without Markdown markup and with single spaces. */
function normalizeLine(line: string): string {
  return (
    line
      .normalize('NFC')
      .replace(/[\u00A0\u2000-\u200B\u3000\t\f\v]/g, ' ')
      .replace(/\\([*_#\-[\]()>`])/g, '$1') // Markdown escapes: \* → *
      .replace(/\*\*|__/g, '') // bold markers
      .replace(/\s+/g, ' ')
      // Heading, bullet and list marks, possibly nested ("- * note").
      .replace(/^\s*(?:(?:#{1,6}|>|[-*+•▪◦·○●■□▶▷◆◇※✓⇒]|\d{1,2}[.)])\s+)+/u, '')
      .trim()
  );
}

/** Page furniture: page numbers, rules, table-of-contents rows, table cells, chapter tags. */
function isFurniture(line: string): boolean {
  if (line === '') return true;
  if (/^[\d\s.,·\-–—|:~/()[\]ivxIVX]+$/.test(line)) return true; // "22", "- 3 -", "ii", "---", "|"
  if (/^(?:chapter|contents|part)\b/i.test(line)) return true;
  if (/(?:\.{3,}|…|\s)\s*\d{1,4}$/.test(line) && line.length < 80) return true; // "… 341", "개요 46"
  if (line.includes('|')) return true; // Markdown table rows
  // Headers like "S IT&FUTURE" or stray English: a sentence has some Hangul.
  return hangulCount(line) < 8;
}

/**
 * Corpus text → clean paragraphs (one per non-furniture line), in order, each kept once.
 * A paragraph cut by a dropped page number (no sentence end, next one continues in Hangul) is joined.
 */
export function cleanCorpusText(text: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let brokenByPage = false;
  for (const raw of text.replace(/\r\n?/g, '\n').split('\n')) {
    const line = normalizeLine(raw);
    if (isFurniture(line)) {
      if (/^\d{1,4}$/.test(line)) brokenByPage = true;
      continue;
    }
    const prev = out[out.length - 1];
    if (brokenByPage && prev !== undefined && !SENTENCE_END.test(prev) && /^[\uAC00-\uD7A3]/.test(line)) {
      seen.delete(prev);
      out[out.length - 1] = `${prev} ${line}`;
      seen.add(out[out.length - 1]!);
    } else if (!seen.has(line)) {
      out.push(line);
      seen.add(line);
    }
    brokenByPage = false;
  }
  return out;
}

/** Sentences of a paragraph (split after . ! ? followed by a space). */
function sentences(paragraph: string): string[] {
  return paragraph.split(/(?<=[.!?])\s+/u).filter((s) => s.length > 0);
}

/**
 * Packs paragraphs into chunks of at most `maxSeqLen` tokens (joined by newlines). A paragraph
 * longer than that is split into sentences; a sentence longer still, into token windows.
 * @throws {CorpusDatasetError} when `maxSeqLen` < 8.
 */
export function chunkParagraphs(
  paragraphs: readonly string[],
  tokenizer: Tokenizer,
  maxSeqLen: number,
): string[] {
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < 8) {
    throw new CorpusDatasetError(`maxSeqLen must be an integer ≥ 8, got ${maxSeqLen}`);
  }
  const count = (s: string) => tokenizer.encode(s).length;
  const pieces: string[] = [];
  for (const p of paragraphs) {
    if (count(p) <= maxSeqLen) {
      pieces.push(p);
      continue;
    }
    for (const s of sentences(p)) {
      if (count(s) <= maxSeqLen) {
        pieces.push(s);
        continue;
      }
      const ids = tokenizer.encode(s);
      for (let i = 0; i < ids.length; i += maxSeqLen) {
        // A window may cut a Hangul syllable's bytes; the decoder then writes U+FFFD, which we drop.
        pieces.push(tokenizer.decode(ids.slice(i, i + maxSeqLen)).replace(/\uFFFD/g, ''));
      }
    }
  }
  const chunks: string[] = [];
  let cur = '';
  for (const piece of pieces) {
    const joined = cur ? `${cur}\n${piece}` : piece;
    if (cur && count(joined) > maxSeqLen) {
      chunks.push(cur);
      cur = piece;
    } else {
      cur = joined;
    }
  }
  if (cur) chunks.push(cur);
  // Re-check: decoding a token window and re-encoding can merge differently.
  return chunks.filter((c) => count(c) <= maxSeqLen && count(c) >= 2);
}

/** FNV-1a over UTF-16 code units: the split bucket of a chunk (0..99). */
export function splitBucket(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h % 100;
}

export interface CorpusDatasetOptions {
  maxSeqLen: number;
  /** Percent of chunks held out for validation (default 5). */
  validationPercent?: number;
  /** Corpus directory (default: `corpusDir()`, i.e. ../shared/corpus or DURE_CORPUS_DIR). */
  dir?: string;
}

export interface CorpusDataset {
  /** Where the text came from: the corpus directory, or Dure's fixtures when it is absent. */
  source: 'corpus' | 'fixtures';
  files: string[];
  train: { texts: string[]; examples: TrainExample[] };
  validation: { texts: string[]; examples: TrainExample[] };
  stats: { chars: number; paragraphs: number; chunks: number; trainTokens: number; validationTokens: number };
}

/** The corpus's .txt files (sorted) with their text, or null when the directory is absent or empty. */
export async function readCorpus(dir = corpusDir()): Promise<{ name: string; text: string }[] | null> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((f) => f.endsWith('.txt')).sort();
  } catch {
    return null;
  }
  if (names.length === 0) return null;
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(join(dir, name), 'utf8') })));
}

/**
 * Builds the training and validation sets for `tokenizer`.
 * @throws {CorpusDatasetError} for bad options.
 */
export async function corpusDataset(
  tokenizer: Tokenizer,
  options: CorpusDatasetOptions,
): Promise<CorpusDataset> {
  const pct = options.validationPercent ?? 5;
  if (!(pct > 0 && pct < 100))
    throw new CorpusDatasetError(`validationPercent must be in (0, 100), got ${pct}`);
  const files = await readCorpus(options.dir);
  if (!files) {
    console.warn(
      `note: ${options.dir ?? corpusDir()} not found; the corpus set uses Dure's own Korean fixtures`,
    );
  }
  const texts = files ?? [{ name: 'fixtures/ko-lines', text: KO_LINES.join('\n') }];
  const paragraphs = texts.flatMap((f) => cleanCorpusText(f.text));
  // Each file is cleaned on its own, but a paragraph quoted in both is kept once.
  const unique = [...new Set(paragraphs)];
  const chunks = chunkParagraphs(unique, tokenizer, options.maxSeqLen);
  const train: CorpusDataset['train'] = { texts: [], examples: [] };
  const validation: CorpusDataset['validation'] = { texts: [], examples: [] };
  let trainTokens = 0;
  let validationTokens = 0;
  for (const chunk of chunks) {
    const ids = tokenizer.encode(chunk);
    const held = splitBucket(chunk) < pct;
    const target = held ? validation : train;
    target.texts.push(chunk);
    target.examples.push(textExample(ids));
    if (held) validationTokens += ids.length;
    else trainTokens += ids.length;
  }
  return {
    source: files ? 'corpus' : 'fixtures',
    files: texts.map((f) => f.name),
    train,
    validation,
    stats: {
      chars: texts.reduce((n, f) => n + f.text.length, 0),
      paragraphs: unique.length,
      chunks: chunks.length,
      trainTokens,
      validationTokens,
    },
  };
}
