import { describe, expect, it } from 'vitest';
import {
  KnowledgeBaseFormatError,
  KnowledgeBaseIntegrityError,
  errorText,
  fromErrorData,
  toErrorData,
} from '../protocol/errors.ts';
import { KB_LIMITS, makeKnowledgeBase, parseKnowledgeBase, serializeKnowledgeBase } from './kb-file.ts';
import type { Passage } from './types.ts';

const PASSAGES: Passage[] = [
  {
    id: 'a.md#0',
    source: 'a.md',
    title: '전입신고',
    section: '신고 기한',
    headings: ['전입신고', '신고 기한'],
    url: '/a',
    anchor: '신고-기한',
    effective_date: '2025-01-01',
    text: '이사한 날부터 14일 안에 신고합니다.',
  },
  { id: 'b.txt#0', source: 'b.txt', title: 'b.txt', section: 'b.txt', headings: [], text: '본문.' },
];

const serialized = () => serializeKnowledgeBase(makeKnowledgeBase(PASSAGES));

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('kb.json', () => {
  it('round-trips, verifies its hash and serialises the same bytes every time', () => {
    const text = serialized();
    const kb = parseKnowledgeBase(text);
    expect(kb.passages).toEqual(PASSAGES);
    expect(kb.format).toBe('dure-kb/1');
    expect(kb.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(serializeKnowledgeBase(kb)).toBe(text);
    expect(parseKnowledgeBase(new TextEncoder().encode(text), kb.sha256).sha256).toBe(kb.sha256);
    // The hash covers the content, not key order or spacing.
    expect(parseKnowledgeBase(JSON.stringify(JSON.parse(text))).sha256).toBe(kb.sha256);
  });

  it('rejects a changed passage, a wrong stated hash and a hash the portal did not pin', () => {
    const tampered = serialized().replace('14일', '30일');
    expect(() => parseKnowledgeBase(tampered)).toThrow(KnowledgeBaseIntegrityError);
    const data = JSON.parse(serialized()) as { sha256: string };
    data.sha256 = '0'.repeat(64);
    expect(codeOf(() => parseKnowledgeBase(JSON.stringify(data)))).toBe('KB_INTEGRITY');
    expect(() => parseKnowledgeBase(serialized(), 'f'.repeat(64))).toThrow(/the portal expects/);
  });

  it('rejects malformed files with typed, catalogued errors', () => {
    const good = JSON.parse(serialized()) as Record<string, unknown>;
    const variant = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
    const passage = (patch: Record<string, unknown>) =>
      variant({ passages: [{ ...(good.passages as object[])[0], ...patch }] });
    const cases: [string | Uint8Array, string][] = [
      ['not json', 'KB_FORMAT'],
      [Uint8Array.of(0x7b, 0xff, 0x7d), 'KB_FORMAT'],
      ['[]', 'KB_FORMAT'],
      [variant({ format: undefined }), 'KB_FORMAT'],
      [variant({ format: 'dure-kb/2' }), 'KB_VERSION'],
      [variant({ sha256: 'abc' }), 'KB_FORMAT'],
      [variant({ passages: {} }), 'KB_FORMAT'],
      [variant({ passages: [5] }), 'KB_FORMAT'],
      [passage({ text: 7 }), 'KB_FORMAT'],
      [passage({ headings: 'x' }), 'KB_FORMAT'],
      [passage({ valid_until: '2025-13-01' }), 'KB_FORMAT'],
      [passage({ text: 'x'.repeat(KB_LIMITS.maxPassageChars + 1) }), 'KB_LIMIT'],
      [variant({ passages: [(good.passages as object[])[0], (good.passages as object[])[0]] }), 'KB_FORMAT'],
      [' '.repeat(KB_LIMITS.maxFileBytes + 1), 'KB_LIMIT'],
    ];
    for (const [input, code] of cases) {
      let err: unknown;
      try {
        parseKnowledgeBase(input);
      } catch (e) {
        err = e;
      }
      expect(err, String(input).slice(0, 80)).toBeInstanceOf(KnowledgeBaseFormatError);
      expect((err as KnowledgeBaseFormatError).code, String(input).slice(0, 80)).toBe(code);
    }
  });

  it('errors cross a worker boundary as the same class with Korean and English text', () => {
    const e = new KnowledgeBaseFormatError('too big', 'KB_LIMIT');
    const back = fromErrorData(toErrorData(e));
    expect(back).toBeInstanceOf(KnowledgeBaseFormatError);
    expect(back.code).toBe('KB_LIMIT');
    expect(errorText('KB_INTEGRITY', 'ko')).toMatch(/지식 베이스/);
    expect(errorText('KB_INTEGRITY', 'en')).toMatch(/knowledge base/);
  });
});
