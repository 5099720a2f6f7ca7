import { describe, expect, it } from 'vitest';
import { detectPii, luhnOk, maskPii, type PiiKind } from './pii.ts';

const kinds = (text: string): PiiKind[] => detectPii(text).map((f) => f.kind);

describe('detectPii: positives', () => {
  it.each<[string, PiiKind, string]>([
    ['제 주민번호는 900101-1234568 입니다', 'rrn', '900101-1234568'],
    ['주민등록번호 8503152345678로 조회해 주세요', 'rrn', '8503152345678'],
    ['2001년생 010203-3456788', 'rrn', '010203-3456788'],
    ['외국인등록번호: 920707-5123450', 'frn', '920707-5123450'],
    ['등록번호0304056123453입니다', 'frn', '0304056123453'],
    // Issued after 2020-10: random tail, no checksum; the hyphenated form is still a hit.
    ['900101-1234567', 'rrn', '900101-1234567'],
    ['연락처 010-1234-5678 로 주세요', 'phone', '010-1234-5678'],
    ['핸드폰01098765432', 'phone', '01098765432'],
    ['사무실 02-123-4567', 'phone', '02-123-4567'],
    ['부산 051)234-5678', 'phone', '051)234-5678'],
    ['+82 10-2222-3333 으로', 'phone', '+82 10-2222-3333'],
    ['인터넷전화 070-1234-5678', 'phone', '070-1234-5678'],
    ['메일은 hong.gildong+min@seoul.go.kr 입니다', 'email', 'hong.gildong+min@seoul.go.kr'],
    ['카드 4111-1111-1111-1111 결제', 'card', '4111-1111-1111-1111'],
    ['카드번호 5500 0000 0000 0004', 'card', '5500 0000 0000 0004'],
    ['아멕스 378282246310005', 'card', '378282246310005'],
    ['국민은행 123456-12-123456 으로 환불', 'account', '123456-12-123456'],
    ['신한 110-123-456789', 'account', '110-123-456789'],
    ['환불 계좌는 3333012345678 입니다', 'account', '3333012345678'],
    ['여권번호 M12345678', 'passport', 'M12345678'],
    ['신여권 M123A4567 입니다', 'passport', 'M123A4567'],
  ])('%s → %s', (text, kind, value) => {
    const found = detectPii(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind, value });
    expect(text.slice(found[0]?.start, found[0]?.end)).toBe(value);
  });

  it('reports the checksum-backed resident number with high confidence, the random-tail one medium', () => {
    expect(detectPii('900101-1234568')[0]?.confidence).toBe('high');
    expect(detectPii('900101-1234567')[0]?.confidence).toBe('medium');
  });

  it('finds several identifiers in one message, in order', () => {
    expect(kinds('홍길동 900101-1234568, 010-1234-5678, a@b.kr')).toEqual(['rrn', 'phone', 'email']);
  });
});

describe('detectPii: negatives', () => {
  it.each([
    '민원 접수번호 2024-000123 확인 부탁드립니다',
    '금액은 1,234,567원입니다',
    '날짜 2024-05-17 오후 3시',
    // Unhyphenated 13 digits whose checksum fails: could be any number.
    '주문번호 9001011234567',
    // Invalid birth date (month 13) even with a hyphen.
    '901301-1234567',
    // Sex digit 9 does not exist.
    '900101-9234567',
    '카드 4111-1111-1111-1112',
    '대표번호 1588-1234',
    '버전 3.10.2, 포트 8080',
    'user@localhost',
    '여권 발급 수수료는 53000원',
    'ISBN 978-89-12345-67-8',
    '우편번호 04524',
    '한글만 있는 문장입니다. 개인정보가 없어요.',
    'M1234567',
  ])('%s → nothing', (text) => {
    expect(detectPii(text)).toEqual([]);
  });
});

describe('luhnOk', () => {
  it('accepts the standard test PAN and rejects a one-digit change', () => {
    expect(luhnOk([...'4111111111111111'].map(Number))).toBe(true);
    expect(luhnOk([...'4111111111111121'].map(Number))).toBe(false);
  });
});

describe('maskPii', () => {
  it('masks each kind keeping only what identifies the field, and leaves other text alone', () => {
    const text = '주민 900101-1234568 폰 010-1234-5678 메일 hong@seoul.go.kr 카드 4111-1111-1111-1111';
    expect(maskPii(text)).toBe(
      '주민 900101-1****** 폰 ***-****-5678 메일 h***@seoul.go.kr 카드 ****-****-****-1111',
    );
  });

  it('masks passports and accounts', () => {
    expect(maskPii('M123A4567 / 110-123-456789')).toBe('M******** / ***-***-**6789');
  });

  it('is the identity on text without identifiers (Hangul untouched)', () => {
    const t = '전입신고는 어떻게 하나요? 🙏';
    expect(maskPii(t)).toBe(t);
  });
});
