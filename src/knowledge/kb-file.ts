/**
 * The knowledge base file (`kb.json`, format `dure-kb/1`): passages plus the SHA-256 of their
 * canonical form, so a browser verifies what it downloaded the way it verifies the model, and a
 * strict parser with bounded sizes that rebuilds every passage field by field (nothing unknown
 * from the file is kept).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { KnowledgeBaseFormatError, KnowledgeBaseIntegrityError } from '../protocol/errors.ts';
import { isIsoDate } from './front-matter.ts';
import type { Passage } from './types.ts';

export const KB_FORMAT = 'dure-kb/1';

/** What a browser accepts before it parses (a city's 민원 guides are a few MB at most). */
export const KB_LIMITS = {
  maxFileBytes: 32 * 1024 * 1024,
  maxPassages: 50_000,
  maxPassageChars: 4_000,
  maxFieldChars: 1_024,
  maxHeadings: 8,
} as const;

export interface KnowledgeBaseFile {
  format: typeof KB_FORMAT;
  /** Hex SHA-256 of `canonicalPassages(passages)` as UTF-8. */
  sha256: string;
  passages: Passage[];
}

/** One passage with its keys in a fixed order and absent optionals left out. */
function canonicalPassage(p: Passage): Passage {
  const c: Passage = {
    id: p.id,
    source: p.source,
    title: p.title,
    section: p.section,
    headings: [...p.headings],
    text: p.text,
  };
  if (p.url !== undefined) c.url = p.url;
  if (p.anchor !== undefined) c.anchor = p.anchor;
  if (p.effective_date !== undefined) c.effective_date = p.effective_date;
  if (p.valid_until !== undefined) c.valid_until = p.valid_until;
  return c;
}

/** The exact text the content hash covers. */
export function canonicalPassages(passages: readonly Passage[]): string {
  return JSON.stringify(passages.map(canonicalPassage));
}

export function passagesSha256(passages: readonly Passage[]): string {
  return bytesToHex(sha256(new TextEncoder().encode(canonicalPassages(passages))));
}

/** A knowledge base file for these passages (in the order given). */
export function makeKnowledgeBase(passages: readonly Passage[]): KnowledgeBaseFile {
  const canonical = passages.map(canonicalPassage);
  return { format: KB_FORMAT, sha256: passagesSha256(canonical), passages: canonical };
}

/** Serialises deterministically: same passages, same bytes. */
export function serializeKnowledgeBase(kb: KnowledgeBaseFile): string {
  const passages = kb.passages.map((p) => `    ${JSON.stringify(canonicalPassage(p))}`).join(',\n');
  return `{\n  "format": ${JSON.stringify(kb.format)},\n  "sha256": ${JSON.stringify(kb.sha256)},\n  "passages": [\n${passages}\n  ]\n}\n`;
}

/**
 * Parses and verifies a downloaded kb.json.
 * @param expectedSha256 the content hash the portal configured, when it pins one.
 * @throws {KnowledgeBaseFormatError} KB_FORMAT (not a knowledge base), KB_VERSION (another format), KB_LIMIT (too large).
 * @throws {KnowledgeBaseIntegrityError} when the passages do not hash to the stated (or expected) SHA-256.
 */
export function parseKnowledgeBase(input: string | Uint8Array, expectedSha256?: string): KnowledgeBaseFile {
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size > KB_LIMITS.maxFileBytes) {
    throw new KnowledgeBaseFormatError(
      `kb.json has ${size} bytes; the limit is ${KB_LIMITS.maxFileBytes}`,
      'KB_LIMIT',
    );
  }
  let data: unknown;
  try {
    const text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
    data = JSON.parse(text);
  } catch (e) {
    throw new KnowledgeBaseFormatError(`kb.json is not UTF-8 JSON: ${(e as Error).message}`, 'KB_FORMAT', {
      cause: e,
    });
  }
  if (!isRecord(data)) throw new KnowledgeBaseFormatError('kb.json is not a JSON object');
  if (typeof data.format !== 'string' || !data.format.startsWith('dure-kb/')) {
    throw new KnowledgeBaseFormatError('kb.json has no "format": "dure-kb/…" field');
  }
  if (data.format !== KB_FORMAT) {
    throw new KnowledgeBaseFormatError(
      `kb.json is ${data.format}; this build reads ${KB_FORMAT}`,
      'KB_VERSION',
    );
  }
  if (typeof data.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(data.sha256)) {
    throw new KnowledgeBaseFormatError('kb.json "sha256" must be 64 lower-case hex digits');
  }
  if (!Array.isArray(data.passages))
    throw new KnowledgeBaseFormatError('kb.json "passages" must be an array');
  if (data.passages.length > KB_LIMITS.maxPassages) {
    throw new KnowledgeBaseFormatError(
      `kb.json has ${data.passages.length} passages; the limit is ${KB_LIMITS.maxPassages}`,
      'KB_LIMIT',
    );
  }
  const passages = data.passages.map((p, i) => readPassage(p, i));
  const ids = new Set<string>();
  for (const p of passages) {
    if (ids.has(p.id))
      throw new KnowledgeBaseFormatError(`kb.json repeats passage id ${JSON.stringify(p.id)}`);
    ids.add(p.id);
  }
  const actual = passagesSha256(passages);
  if (actual !== data.sha256) {
    throw new KnowledgeBaseIntegrityError(
      `kb.json passages hash to ${actual}, not the stated ${data.sha256}`,
    );
  }
  if (expectedSha256 !== undefined && expectedSha256.toLowerCase() !== actual) {
    throw new KnowledgeBaseIntegrityError(`kb.json is ${actual}; the portal expects ${expectedSha256}`);
  }
  return { format: KB_FORMAT, sha256: actual, passages };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readPassage(v: unknown, i: number): Passage {
  if (!isRecord(v)) throw new KnowledgeBaseFormatError(`passage ${i} is not an object`);
  const str = (key: string, max: number = KB_LIMITS.maxFieldChars, required = true): string | undefined => {
    const x = v[key];
    if (x === undefined && !required) return undefined;
    if (typeof x !== 'string') throw new KnowledgeBaseFormatError(`passage ${i}: "${key}" must be a string`);
    if (x.length > max) {
      throw new KnowledgeBaseFormatError(
        `passage ${i}: "${key}" is longer than ${max} characters`,
        'KB_LIMIT',
      );
    }
    return x;
  };
  const date = (key: string): string | undefined => {
    const x = str(key, 10, false);
    if (x !== undefined && !isIsoDate(x)) {
      throw new KnowledgeBaseFormatError(`passage ${i}: "${key}" must be a YYYY-MM-DD date`);
    }
    return x;
  };
  const headings = v.headings;
  if (
    !Array.isArray(headings) ||
    headings.length > KB_LIMITS.maxHeadings ||
    !headings.every((h) => typeof h === 'string' && h.length <= KB_LIMITS.maxFieldChars)
  ) {
    throw new KnowledgeBaseFormatError(
      `passage ${i}: "headings" must be at most ${KB_LIMITS.maxHeadings} strings`,
    );
  }
  const p: Passage = {
    id: str('id')!,
    source: str('source')!,
    title: str('title')!,
    section: str('section')!,
    headings: headings as string[],
    text: str('text', KB_LIMITS.maxPassageChars)!,
  };
  const url = str('url', KB_LIMITS.maxFieldChars, false);
  const anchor = str('anchor', KB_LIMITS.maxFieldChars, false);
  const effective = date('effective_date');
  const until = date('valid_until');
  if (url !== undefined) p.url = url;
  if (anchor !== undefined) p.anchor = anchor;
  if (effective !== undefined) p.effective_date = effective;
  if (until !== undefined) p.valid_until = until;
  return p;
}
