import { describe, expect, it } from 'vitest';
import { safeLinkTarget } from '../safety/markdown.ts';
import { formatBytes, formatEta, safeHandoffUrl } from './format.ts';

describe('progress formatting', () => {
  it('formats sizes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3_652_064)).toBe('3.5 MB');
    expect(formatBytes(1.5 * 2 ** 30)).toBe('1.50 GB');
  });
  it('formats the ETA, unknown as a dash', () => {
    expect(formatEta(null, '초')).toBe('—');
    expect(formatEta(12.2, '초')).toBe('13초');
    expect(formatEta(125, 's')).toBe('2:05');
  });
});

describe('link safety', () => {
  it('handoff links may be web, e-mail or phone, nothing else', () => {
    expect(safeHandoffUrl('tel:120')).toBe('tel:120');
    expect(safeHandoffUrl('https://www.gov.kr/상담')).toBe('https://www.gov.kr/%EC%83%81%EB%8B%B4');
    expect(safeHandoffUrl('javascript:alert(1)')).toBeNull();
    expect(safeHandoffUrl(' data:text/html,x')).toBeNull();
  });
  it('markdown links keep only http(s) and mailto targets', () => {
    expect(safeLinkTarget('https://www.gov.kr')).toBe('https://www.gov.kr/');
    expect(safeLinkTarget('mailto:help@seoul.go.kr')).toBe('mailto:help@seoul.go.kr');
    for (const bad of [
      'javascript:alert(1)',
      'JaVaScRiPt:x',
      'data:text/html,x',
      'vbscript:x',
      '/relative',
      '//evil.example',
    ])
      expect(safeLinkTarget(bad)).toBeNull();
  });
});
