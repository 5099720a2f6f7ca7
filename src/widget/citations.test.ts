import { describe, expect, it } from 'vitest';
import { citationMarkdown, escapeMarkdown } from './citations.ts';

describe('citation Markdown', () => {
  it('keeps knowledge-base titles as text: no link, image or HTML can be smuggled in', () => {
    const md = citationMarkdown(
      { n: 1, source: 'a.md', title: '[x](javascript:alert(1)) <img src=x>', section: '![i](http://a/b)' },
      'ko',
    );
    // Every bracket, parenthesis and angle bracket of the title is escaped.
    expect(md).toBe(
      '\\[x\\]\\(javascript\\:alert\\(1\\)\\) \\<img src\\=x\\> › \\!\\[i\\]\\(http\\:\\/\\/a\\/b\\)',
    );
  });

  it('links the URL as one destination and adds the effective date', () => {
    const md = citationMarkdown(
      {
        n: 2,
        source: 'p.md',
        title: '여권',
        section: '수수료',
        url: 'https://x.kr/p a>b',
        effectiveDate: '2025-01-01',
      },
      'ko',
    );
    expect(md).toBe('[여권 › 수수료](<https://x.kr/p%20a%3Eb>) (시행 2025\\-01\\-01)');
    expect(escapeMarkdown('a\n\nb')).toBe('a b');
  });
});
