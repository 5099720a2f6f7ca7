import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenizer, type Tokenizer } from '../../src/engine/tokenizer/index.ts';
import { tokenizerMetadata } from '../../src/testing/test-models.ts';
import {
  chunkParagraphs,
  cleanCorpusText,
  corpusDataset,
  CorpusDatasetError,
  splitBucket,
} from './corpus.ts';

let tok: Tokenizer;
let dir: string;

const PAGE = [
  '# 초거대AI 경쟁력 강화 방안',
  '',
  '1 추진 배경 12',
  '| 구분 | 내용 |',
  'S IT&FUTURE R A T E G Y',
  '- **디지털 전환**은 대학의 많은 영역에서  이루어져야 한다.',
  '  - \\* 우리나라는 자체 초거대 AI를 보유한 4개국에 포함',
  '여기서 혁신의 민주화는 사용자 중심의 혁신을 의미한다. 미래의 대학은 디지털 전환과 혁신의',
  '',
  '23',
  '',
  '민주화를 더욱 적극적으로 실행해야 한다.',
  'CONTENTS',
  '- **디지털 전환**은 대학의 많은 영역에서  이루어져야 한다.',
  '\u1100\u1161\u11a8 한글 자모로 적힌 문장도 완성형으로 정규화합니다.',
].join('\n');

beforeAll(async () => {
  tok = createTokenizer(new Map(await tokenizerMetadata('corpus-bpe')));
  dir = await mkdtemp(join(tmpdir(), 'dure-corpus-'));
  await writeFile(join(dir, 'a.txt'), PAGE);
  const long = Array.from(
    { length: 400 },
    (_, i) => `행정 서비스 ${i}번 문단은 시민의 편의를 높이기 위한 내용을 담고 있습니다.`,
  );
  await writeFile(join(dir, 'b.txt'), long.join('\n\n'));
  await writeFile(join(dir, 'ignored.md'), '이 파일은 읽지 않는 마크다운 파일입니다.');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('cleanCorpusText', () => {
  it('drops furniture and markup, re-joins page breaks, dedupes, normalises', () => {
    expect(cleanCorpusText(PAGE)).toEqual([
      '초거대AI 경쟁력 강화 방안',
      '디지털 전환은 대학의 많은 영역에서 이루어져야 한다.',
      '우리나라는 자체 초거대 AI를 보유한 4개국에 포함',
      '여기서 혁신의 민주화는 사용자 중심의 혁신을 의미한다. 미래의 대학은 디지털 전환과 혁신의 민주화를 더욱 적극적으로 실행해야 한다.',
      '각 한글 자모로 적힌 문장도 완성형으로 정규화합니다.',
    ]);
  });
});

describe('chunkParagraphs', () => {
  it('packs paragraphs under maxSeqLen and keeps every sentence', () => {
    const paragraphs = Array.from(
      { length: 30 },
      (_, i) =>
        `문단 ${i}: 두레는 브라우저에서 한국어 모델을 실행합니다. 데이터는 기기 밖으로 나가지 않습니다.`,
    );
    paragraphs.push('아주 긴 문장입니다 '.repeat(60).trim() + '.');
    const chunks = chunkParagraphs(paragraphs, tok, 32);
    for (const c of chunks) expect(tok.encode(c).length).toBeLessThanOrEqual(32);
    const joined = chunks.join('\n');
    for (let i = 0; i < 30; i++) expect(joined).toContain(`문단 ${i}: 두레는`);
    // Packing: fewer chunks than pieces, but more than one.
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.length).toBeLessThan(80);
    expect(() => chunkParagraphs(paragraphs, tok, 4)).toThrow(CorpusDatasetError);
  });
});

describe('corpusDataset', () => {
  it('builds a deterministic ~95/5 split of masked LM examples from the .txt files', async () => {
    const a = await corpusDataset(tok, { maxSeqLen: 48, dir });
    const b = await corpusDataset(tok, { maxSeqLen: 48, dir });
    expect(a.source).toBe('corpus');
    expect(a.files).toEqual(['a.txt', 'b.txt']);
    expect(a.train.texts).toEqual(b.train.texts);
    expect(a.validation.texts).toEqual(b.validation.texts);
    const n = a.stats.chunks;
    expect(n).toBe(a.train.texts.length + a.validation.texts.length);
    expect(a.validation.texts.length).toBeGreaterThan(0);
    expect(a.validation.texts.length / n).toBeLessThan(0.15);
    for (const t of a.validation.texts) expect(splitBucket(t)).toBeLessThan(5);
    for (const t of a.train.texts) expect(splitBucket(t)).toBeGreaterThanOrEqual(5);
    for (const [i, ex] of a.train.examples.entries()) {
      expect(ex.ids.length).toBeLessThanOrEqual(48);
      expect(tok.decode([...ex.ids])).toBe(a.train.texts[i]);
      expect(ex.lossMask[0]).toBe(0);
      expect(ex.lossMask.slice(1).every((m) => m === 1)).toBe(true);
    }
    expect(a.stats.trainTokens + a.stats.validationTokens).toBe(
      [...a.train.examples, ...a.validation.examples].reduce((s, e) => s + e.ids.length, 0),
    );
  });

  it('falls back to the fixtures, and says so, without a corpus', async () => {
    const d = await corpusDataset(tok, { maxSeqLen: 64, dir: join(dir, 'missing') });
    expect(d.source).toBe('fixtures');
    expect(d.train.examples.length).toBeGreaterThan(0);
  });

  it('rejects a bad validation share', async () => {
    await expect(corpusDataset(tok, { maxSeqLen: 64, dir, validationPercent: 0 })).rejects.toThrow(
      CorpusDatasetError,
    );
  });
});
