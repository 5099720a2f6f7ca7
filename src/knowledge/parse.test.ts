import { describe, expect, it } from 'vitest';
import { KnowledgeSourceError } from '../protocol/errors.ts';
import { buildKnowledgeBase, parseSourceFile } from './build.ts';
import { PASSAGE_MAX_CHARS, documentPassages } from './passages.ts';

describe('markdown sources', () => {
  const md = [
    '---',
    'title: 여권 발급',
    'url: /guide/passport',
    'effective_date: 2025-03-01',
    'valid_until: 2026-12-31',
    'owner: 민원과',
    '---',
    '# 여권',
    '',
    '여권 안내입니다.',
    '',
    '## 수수료',
    '',
    '10년 여권은 **53,000원**입니다. [자세히](https://x.example) & 더 보기.',
    '',
    '### 카드 결제',
    '',
    '- 현금',
    '- 카드',
    '',
    '## 구비 서류',
    '',
    '| 서류 | 비고 |',
    '|---|---|',
    '| 신분증 | 원본 |',
  ].join('\n');

  it('reads front matter and makes every heading a citable section with its path', () => {
    const doc = parseSourceFile({ name: 'guides/passport.md', text: md });
    expect(doc.meta).toEqual({
      title: '여권 발급',
      url: '/guide/passport',
      effective_date: '2025-03-01',
      valid_until: '2026-12-31',
    });
    expect(doc.sections.map((s) => s.headings)).toEqual([
      ['여권'],
      ['여권', '수수료'],
      ['여권', '수수료', '카드 결제'],
      ['여권', '구비 서류'],
    ]);
    expect(doc.sections[1]!.text).toBe('10년 여권은 53,000원입니다. 자세히 & 더 보기.');
    expect(doc.sections[2]!.text).toBe('현금\n카드');
    expect(doc.sections[3]!.text).toBe('서류 | 비고\n신분증 | 원본');
    const passages = documentPassages(doc);
    expect(passages[1]).toMatchObject({
      id: 'guides/passport.md#1',
      source: 'guides/passport.md',
      title: '여권 발급',
      section: '수수료',
      anchor: '수수료',
      url: '/guide/passport',
      effective_date: '2025-03-01',
      valid_until: '2026-12-31',
    });
  });

  it('takes the first H1 as the title when there is no front matter', () => {
    const doc = parseSourceFile({ name: 'a.md', text: '# 전입신고\n\n본문.' });
    expect(doc.meta).toEqual({ title: '전입신고' });
  });

  it('refuses malformed front matter and dates that are not YYYY-MM-DD, naming the file', () => {
    expect(() => parseSourceFile({ name: 'bad.md', text: '---\ntitle: [unclosed\n---\n본문' })).toThrow(
      KnowledgeSourceError,
    );
    expect(() =>
      parseSourceFile({ name: 'bad.md', text: '---\nvalid_until: 2025-02-30\n---\n본문' }),
    ).toThrow(/bad\.md: valid_until/);
    expect(() => parseSourceFile({ name: 'bad.md', text: '---\n- a\n- b\n---\n본문' })).toThrow(/key: value/);
  });

  it('splits long sections into passages on sentence boundaries', () => {
    const sentence = (i: number) => `${i}번째 문장은 전입신고 기한과 방법을 설명하는 꽤 긴 문장입니다.`;
    const text = `# 긴 글\n\n${Array.from({ length: 40 }, (_, i) => sentence(i)).join(' ')}`;
    const passages = documentPassages(parseSourceFile({ name: 'long.md', text }));
    expect(passages.length).toBeGreaterThan(3);
    for (const p of passages) {
      expect(p.text.length).toBeLessThanOrEqual(PASSAGE_MAX_CHARS);
      expect(p.text).toMatch(/^\d+번째/);
      expect(p.text).toMatch(/니다\.$/);
    }
    expect(passages.map((p) => p.text).join(' ')).toBe(
      Array.from({ length: 40 }, (_, i) => sentence(i)).join(' '),
    );
  });
});

describe('HTML, text and JSON sources', () => {
  it('strips scripts, styles and comments and splits sections on headings', () => {
    const html = `<!doctype html><html><head><title>보건소 안내</title>
      <link rel="canonical" href="https://portal.example/health">
      <meta name="effective_date" content="2025-02-01">
      <style>h2 { color: red }</style><script>alert("head")</script></head>
      <body><h1>보건소</h1><p>보건소는 <b>평일</b>에 엽니다.</p>
      <script type="text/javascript">document.cookie = "steal";</script>
      <!-- 내부 메모 -->
      <h2>보건증</h2><p>수수료는 3,000원&nbsp;입니다. &lt;필독&gt; &#xD55C;</p>
      <noscript>자바스크립트를 켜세요</noscript><img src=x onerror="alert(1)">
      <h2>예방접종</h2><ul><li>독감</li><li>폐렴구균</li></ul><script>unclosed(`;
    const doc = parseSourceFile({ name: 'health.html', text: html });
    expect(doc.meta).toEqual({
      title: '보건소 안내',
      url: 'https://portal.example/health',
      effective_date: '2025-02-01',
    });
    expect(doc.sections).toEqual([
      { headings: ['보건소'], text: '보건소는 평일에 엽니다.' },
      { headings: ['보건소', '보건증'], text: '수수료는 3,000원 입니다. <필독> 한' },
      { headings: ['보건소', '예방접종'], text: '독감\n폐렴구균' },
    ]);
    const all = JSON.stringify(doc);
    for (const leaked of [
      'alert',
      'cookie',
      'steal',
      'color',
      '내부 메모',
      '자바스크립트',
      'onerror',
      'unclosed',
    ]) {
      expect(all).not.toContain(leaked);
    }
  });

  it('reads JSON records, each a section with its own url and dates', () => {
    const records = [
      { title: '전입신고', url: '/a', text: '14일 안에 신고합니다.', effective_date: '2025-01-01' },
      { title: '확정일자', content: '수수료는 600원입니다.', valid_until: '2024-12-31', extra: 1 },
    ];
    const passages = documentPassages(parseSourceFile({ name: 'faq.json', text: JSON.stringify(records) }));
    expect(passages).toEqual([
      {
        id: 'faq.json#0',
        source: 'faq.json',
        title: '전입신고',
        section: '전입신고',
        headings: ['전입신고'],
        anchor: '전입신고',
        url: '/a',
        effective_date: '2025-01-01',
        text: '14일 안에 신고합니다.',
      },
      {
        id: 'faq.json#1',
        source: 'faq.json',
        title: '확정일자',
        section: '확정일자',
        headings: ['확정일자'],
        anchor: '확정일자',
        valid_until: '2024-12-31',
        text: '수수료는 600원입니다.',
      },
    ]);
    expect(() => parseSourceFile({ name: 'x.json', text: '{"text":"a"}' })).toThrow(/array of records/);
    expect(() => parseSourceFile({ name: 'x.json', text: '[{"title":"a"}]' })).toThrow(/record 0/);
    expect(() => parseSourceFile({ name: 'x.json', text: '[{"text":"a", "url": 5}]' })).toThrow(
      KnowledgeSourceError,
    );
  });

  it('reads a text file as one section titled by its first line', () => {
    const doc = parseSourceFile({
      name: 'notice.txt',
      text: '도서관 휴관 안내\n\n월요일은 쉽니다.\n\n공휴일도 쉽니다.',
    });
    expect(doc.meta.title).toBe('도서관 휴관 안내');
    expect(doc.sections).toEqual([
      { headings: ['도서관 휴관 안내'], text: '월요일은 쉽니다.\n\n공휴일도 쉽니다.' },
    ]);
  });

  it('builds the same knowledge base whatever order the files come in, and refuses unknown kinds', () => {
    const files = [
      { name: 'b.md', text: '# 나\n\n둘째 문서.' },
      { name: 'a.txt', text: '가\n\n첫째 문서.' },
    ];
    const one = buildKnowledgeBase(files);
    expect(buildKnowledgeBase([...files].reverse())).toEqual(one);
    expect(one.passages.map((p) => p.id)).toEqual(['a.txt#0', 'b.md#0']);
    expect(() => buildKnowledgeBase([{ name: 'x.pdf', text: '' }])).toThrow(KnowledgeSourceError);
    expect(() => buildKnowledgeBase([files[0]!, files[0]!])).toThrow(/given twice/);
  });
});
