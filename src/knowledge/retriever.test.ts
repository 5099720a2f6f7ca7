/**
 * Retrieval on the demo knowledge base (public/demo/kb) and its Q&A set: the held-out split must
 * stay at or above the measured quality (minus a margin), and the expired document must never
 * come back. `npm run kb:eval` prints the full measurement.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildKnowledgeBase } from './build.ts';
import { evaluateRetrieval, parseQaJsonl } from './evaluate.ts';
import { serializeKnowledgeBase } from './kb-file.ts';
import { Bm25Retriever, DEFAULT_THRESHOLD, DEFAULT_TOKENIZER, localDate } from './retriever.ts';
import { stripSuffix, tokenize } from './tokenize.ts';

const DEMO = new URL('../../public/demo/', import.meta.url);
const files = readdirSync(new URL('kb/', DEMO))
  .filter((n) => n.endsWith('.md'))
  .map((name) => ({ name, text: readFileSync(new URL(`kb/${name}`, DEMO), 'utf8') }));
const kb = buildKnowledgeBase(files);
const qa = parseQaJsonl(readFileSync(new URL('kb-qa.jsonl', DEMO), 'utf8'));
const EXPIRED = 'disaster-relief-2023.md';
const TODAY = () => new Date('2026-03-01T03:00:00Z');

describe('Korean tokenisation', () => {
  it('makes syllable bigrams inside words and keeps one-syllable words whole', () => {
    expect(tokenize('전입신고 꼭 해요', 'bigram')).toEqual(['전입', '입신', '신고', '꼭', '해요']);
    expect(tokenize('2025년 PDF', 'bigram')).toEqual(['2025', '년', 'pdf']);
  });

  it('strips particles and endings but keeps a two-syllable stem', () => {
    expect(['기초연금은', '보건소에서', '신고하려면', '여권을', '과태료가', '여권'].map(stripSuffix)).toEqual(
      ['기초연금', '보건소', '신고', '여권', '과태료', '여권'],
    );
  });
});

describe('retrieval on the demo knowledge base', () => {
  it('the committed public/demo/kb.json is the build of public/demo/kb (run npm run kb:demo)', () => {
    expect(readFileSync(new URL('kb.json', DEMO), 'utf8')).toBe(serializeKnowledgeBase(kb));
  });

  it('the Q&A set has enough labelled questions and every label names a real section', () => {
    const inScope = qa.filter((q) => q.source !== null);
    expect(inScope.length).toBeGreaterThanOrEqual(60);
    expect(qa.length - inScope.length).toBeGreaterThanOrEqual(20);
    const sections = new Set(kb.passages.map((p) => `${p.source}|${p.section}`));
    expect(inScope.filter((q) => !sections.has(`${q.source}|${q.section}`)).map((q) => q.id)).toEqual([]);
  });

  it('held-out recall@3 and the out-of-scope decision stay at the measured level', () => {
    const { reports } = evaluateRetrieval(kb.passages, qa, {
      tokenizer: DEFAULT_TOKENIZER,
      threshold: DEFAULT_THRESHOLD,
      now: TODAY,
    });
    const heldout = reports.find((r) => r.split === 'heldout')!;
    // Measured 2026-12: recall@3 82.9%, recall@1 77.1%, out-of-scope precision and recall 91.7%.
    expect(heldout.recallAt3).toBeGreaterThanOrEqual(0.77);
    expect(heldout.recallAt1).toBeGreaterThanOrEqual(0.7);
    expect(heldout.outOfScope.precision).toBeGreaterThanOrEqual(0.8);
    expect(heldout.outOfScope.recall).toBeGreaterThanOrEqual(0.8);
  });

  it('never returns a document past its valid_until, and does before then', () => {
    const expiredQuery = '재난지원금 신청 기간 두레사랑 지역화폐';
    const now = new Bm25Retriever(kb.passages, { now: TODAY });
    for (const q of [expiredQuery, ...qa.map((x) => x.question)]) {
      expect(now.search(q, 100).filter((h) => h.passage.source === EXPIRED)).toEqual([]);
    }
    expect(now.retrieveSync(expiredQuery, 3)).toEqual([]);
    // The last day it was valid, in Korea (2023-06-30 23:30 KST is still 06-30 there).
    const lastDay = new Bm25Retriever(kb.passages, { now: () => new Date('2023-06-30T14:30:00Z') });
    expect(lastDay.retrieveSync(expiredQuery, 3)[0]?.passage.source).toBe(EXPIRED);
    const dayAfter = new Bm25Retriever(kb.passages, { now: () => new Date('2023-06-30T15:30:00Z') });
    expect(dayAfter.search(expiredQuery, 100).some((h) => h.passage.source === EXPIRED)).toBe(false);
    expect(localDate(new Date('2023-06-30T15:30:00Z'), 540)).toBe('2023-07-01');
  });

  it('answers through the Retriever interface: best first, with nothing for out-of-scope questions', async () => {
    const r = new Bm25Retriever(kb.passages, { now: TODAY });
    const hits = await r.retrieve('여권 수수료 얼마예요', 3);
    expect(hits[0]!.passage.source).toBe('passport.md');
    expect(hits[0]!.passage.section).toBe('수수료');
    expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
    expect(await r.retrieve('오늘 삼성전자 주가 얼마야?', 3)).toEqual([]);
    expect(await r.retrieve('', 3)).toEqual([]);
  });
});
