import { describe, expect, it } from 'vitest';
import { compileCustomPatterns } from '../safety/custom-patterns.ts';
import {
  DatasetError,
  loadDataset,
  parseDatasetLine,
  scrubRecords,
  splitDataset,
  toInstructionRecord,
  type LineIssue,
  type NumberedRecord,
} from './dataset.ts';

const jsonl = (...lines: unknown[]) =>
  new Blob([lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')]);

const qa = (i: number) => ({ instruction: `질문 ${i}`, input: '', output: `답변 ${i}` });

describe('parseDatasetLine', () => {
  it('accepts instruction records (input optional) and chat records', () => {
    expect(parseDatasetLine('{"instruction":"여권 발급","output":"구청에서"}', 1)).toEqual({
      kind: 'instruction',
      instruction: '여권 발급',
      input: '',
      output: '구청에서',
    });
    const chat = {
      messages: [
        { role: 'system', content: '민원 안내' },
        { role: 'user', content: '등본은?' },
        { role: 'assistant', content: '정부24에서 발급합니다.' },
      ],
    };
    expect(parseDatasetLine(JSON.stringify(chat), 2)).toEqual({ kind: 'chat', ...chat });
  });

  it('never quotes the line in a JSON error (it may hold unscrubbed identifiers)', () => {
    for (const bad of ['{"instruction": 900101-1234568', '{"a":1,}', '010-1234-5678']) {
      const r = parseDatasetLine(bad, 1) as LineIssue;
      expect(r.code).toBe('json');
      expect(`${r.ko} ${r.en}`).not.toMatch(/1234|instruction/);
    }
  });

  it.each<[string, LineIssue['code'], RegExp]>([
    ['{"instruction": "x", ', 'json', /JSON/],
    ['[1,2]', 'not-object', /객체/],
    ['{"question":"a","answer":"b"}', 'unknown-shape', /instruction/],
    ['{"instruction":"a","output":3}', 'field-type', /"output"/],
    ['{"instruction":"a"}', 'field-type', /없음/],
    ['{"instruction":"  ","output":"b"}', 'empty-field', /"instruction"/],
    ['{"messages":[]}', 'field-type', /messages/],
    ['{"messages":[{"role":"bot","content":"a"}]}', 'bad-role', /"bot"/],
    ['{"messages":[{"role":"user","content":"a"}]}', 'no-answer', /assistant/],
    ['{"messages":[{"role":"user"}]}', 'field-type', /content/],
  ])('%s → %s', (line, code, ko) => {
    const r = parseDatasetLine(line, 7) as LineIssue;
    expect(r.code).toBe(code);
    expect(r.line).toBe(7);
    expect(r.ko).toMatch(/^7번째 줄: /);
    expect(r.ko).toMatch(ko);
    expect(r.en).toMatch(/^line 7: /);
  });
});

describe('toInstructionRecord', () => {
  it('keeps instruction records and turns a chat into question, context and answer', () => {
    expect(toInstructionRecord({ kind: 'instruction', instruction: 'a', input: 'b', output: 'c' })).toEqual({
      instruction: 'a',
      input: 'b',
      output: 'c',
    });
    expect(
      toInstructionRecord({
        kind: 'chat',
        messages: [
          { role: 'system', content: '민원 안내원' },
          { role: 'user', content: '등본?' },
          { role: 'assistant', content: '정부24' },
          { role: 'user', content: '수수료는?' },
          { role: 'assistant', content: '무료입니다' },
        ],
      }),
    ).toEqual({
      instruction: '수수료는?',
      input: 'system: 민원 안내원\nuser: 등본?\nassistant: 정부24',
      output: '무료입니다',
    });
  });
});

describe('scrubRecords', () => {
  it('replaces identifiers with their kind and reports counts and masked examples only', () => {
    const records: NumberedRecord[] = [
      {
        line: 3,
        record: {
          kind: 'instruction',
          instruction: '환불 문의',
          input: '연락처 010-1234-5678, 메일 hong@seoul.go.kr',
          output: '주민번호 900101-1234568 확인 후 처리합니다.',
        },
      },
      { line: 4, record: { kind: 'chat', messages: [{ role: 'user', content: '여권 M12345678 분실' }] } },
      { line: 5, record: { kind: 'instruction', instruction: '안녕', input: '', output: '네' } },
    ];
    const { records: out, report } = scrubRecords(records);
    expect(out[0]!.record).toEqual({
      kind: 'instruction',
      instruction: '환불 문의',
      input: '연락처 [전화번호], 메일 [이메일 주소]',
      output: '주민번호 [주민등록번호] 확인 후 처리합니다.',
    });
    expect(out[1]!.record).toEqual({
      kind: 'chat',
      messages: [{ role: 'user', content: '여권 [여권 번호] 분실' }],
    });
    expect(out[2]).toEqual(records[2]);
    expect(report.total).toBe(4);
    expect(report.records).toBe(2);
    expect(report.byKind).toMatchObject({ phone: 1, email: 1, rrn: 1, passport: 1, card: 0 });
    expect(report.examples.map((e) => [e.line, e.kind])).toEqual([
      [3, 'phone'],
      [3, 'email'],
      [3, 'rrn'],
      [4, 'passport'],
    ]);
    const shown = JSON.stringify(report);
    for (const secret of ['1234-5678', 'hong@', '1234568', '12345678']) expect(shown).not.toContain(secret);
    expect(report.examples[0]!.context).toContain('[전화번호]');
    // inputs untouched
    expect((records[0]!.record as { input: string }).input).toContain('010-1234-5678');
  });
});

describe('names and institution patterns in training data', () => {
  it("masks a person named in the text and the institution's own identifiers, before training", async () => {
    const custom = compileCustomPatterns([{ label: '환자번호', pattern: 'P-\\d{6}' }]);
    const file = new File(
      [
        JSON.stringify({
          instruction: '이름은 강슬기이고 주소 변경 문의',
          output: '강슬기 님, 확인했습니다.',
        }) + '\n',
        JSON.stringify({ instruction: '환자 P-004512 진료 예약', output: '정부 지원 대상입니다.' }) + '\n',
      ],
      'd.jsonl',
    );
    const ds = await loadDataset(file, { customPatterns: custom, validationFraction: 0 });
    const text = JSON.stringify(ds.records);
    expect(text).not.toContain('강슬기');
    expect(text).not.toContain('P-004512');
    expect(ds.records[0]!.record).toMatchObject({
      instruction: '이름은 [이름]이고 주소 변경 문의',
      output: '[이름] 님, 확인했습니다.',
    });
    expect(ds.records[1]!.record).toMatchObject({
      instruction: '환자 [환자번호] 진료 예약',
      output: '정부 지원 대상입니다.',
    });
    expect(ds.pii.byKind).toMatchObject({ name: 2, custom: 1 });
  });
});

describe('splitDataset', () => {
  const recs = Array.from({ length: 50 }, (_, i) => ({
    line: i + 1,
    record: { kind: 'instruction' as const, ...qa(i) },
  }));

  it('is deterministic, independent of line order, and sized by the fraction', () => {
    const a = splitDataset(recs, { validationFraction: 0.2 });
    const b = splitDataset([...recs].reverse(), { validationFraction: 0.2 });
    expect(a.validation).toHaveLength(10);
    expect(a.train).toHaveLength(40);
    const key = (r: NumberedRecord) => r.line;
    expect(a.validation.map(key).sort()).toEqual(b.validation.map(key).sort());
    expect(new Set([...a.train, ...a.validation].map(key)).size).toBe(50);
    // a different seed picks a different (but equally sized) set
    const c = splitDataset(recs, { validationFraction: 0.2, seed: 7 });
    expect(c.validation).toHaveLength(10);
    expect(c.validation.map(key).sort()).not.toEqual(a.validation.map(key).sort());
  });

  it('holds out at least one record when it can, none when the fraction is 0', () => {
    expect(splitDataset(recs.slice(0, 3), { validationFraction: 0.1 }).validation).toHaveLength(1);
    expect(splitDataset(recs.slice(0, 1), { validationFraction: 0.1 }).validation).toHaveLength(0);
    expect(splitDataset(recs, { validationFraction: 0 }).validation).toHaveLength(0);
    expect(() => splitDataset(recs, { validationFraction: 1 })).toThrow(DatasetError);
  });
});

describe('loadDataset', () => {
  it('keeps going past bad lines, reports each with its number, skips blanks, scrubs and splits', async () => {
    const file = jsonl(
      '\uFEFF' + JSON.stringify(qa(1)),
      '',
      '{"instruction": broken',
      {
        messages: [
          { role: 'user', content: '전화 02-123-4567 로 주세요' },
          { role: 'assistant', content: '네' },
        ],
      },
      '   ',
      { instruction: '', output: 'x' },
      qa(2) as unknown as string,
      JSON.stringify(qa(3)) + '\r',
    );
    const ds = await loadDataset(file, { validationFraction: 0.25 });
    expect(ds.records.map((r) => r.line)).toEqual([1, 4, 7, 8]);
    expect(ds.issues.map((i) => [i.line, i.code])).toEqual([
      [3, 'json'],
      [6, 'empty-field'],
    ]);
    expect(ds.lines).toBe(6);
    expect(ds.pii.byKind.phone).toBe(1);
    expect(JSON.stringify(ds.records)).not.toContain('123-4567');
    expect(ds.train.length + ds.validation.length).toBe(4);
    expect(ds.validation).toHaveLength(1);
  });

  it('streams large files in small chunks and bounds the issues it keeps', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(i % 3 === 0 ? 'not json' : JSON.stringify(qa(i)));
    // Many small chunks: lines straddle chunk boundaries.
    const text = lines.join('\n');
    const parts: string[] = [];
    for (let i = 0; i < text.length; i += 97) parts.push(text.slice(i, i + 97));
    const ds = await loadDataset(new Blob(parts), { limits: { maxIssues: 50 } });
    expect(ds.records).toHaveLength(2000);
    expect(ds.issues).toHaveLength(50);
    expect(ds.moreIssues).toBe(950);
    expect(ds.issues[1]!.line).toBe(4);
  });

  it('reports over-long lines and stops at maxRecords', async () => {
    const long = JSON.stringify({ instruction: '가'.repeat(500), output: 'x' });
    const ds = await loadDataset(jsonl(qa(1), long, qa(2), qa(3), qa(4)), {
      limits: { maxLineChars: 200, maxRecords: 2 },
    });
    expect(ds.records.map((r) => r.line)).toEqual([1, 3]);
    expect(ds.issues.map((i) => [i.line, i.code])).toEqual([
      [2, 'line-too-long'],
      [4, 'too-many-records'],
    ]);
  });

  it('rejects files over the size bound and files that are not UTF-8', async () => {
    await expect(loadDataset(jsonl(qa(1)), { limits: { maxBytes: 10 } })).rejects.toMatchObject({
      code: 'DATASET_TOO_LARGE',
    });
    const bad = new Blob([
      new TextEncoder().encode(JSON.stringify(qa(1)) + '\n'),
      new Uint8Array([0xff, 0xfe, 0x41]),
    ]);
    await expect(loadDataset(bad)).rejects.toMatchObject({ code: 'DATASET_ENCODING', name: 'DatasetError' });
  });
});
