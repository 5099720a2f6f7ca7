import { describe, expect, it } from 'vitest';
import {
  compileCustomPattern,
  compileCustomPatterns,
  detectCustom,
  unsafeReason,
} from './custom-patterns.ts';

describe('custom identifier patterns', () => {
  it('masks what an institution names: 환자번호 and 사건번호', () => {
    const ps = compileCustomPatterns([
      { label: '환자번호', pattern: 'P-\\d{6}' },
      { label: '사건번호', pattern: '\\d{4}[가-힣]{1,2}\\d{1,6}' },
    ]);
    const text = '환자 P-004512 건, 사건 2023가합12345 관련 문의';
    const got = detectCustom(text, ps).map((f) => [f.label, text.slice(f.start, f.end)]);
    expect(got).toEqual([
      ['환자번호', 'P-004512'],
      ['사건번호', '2023가합12345'],
    ]);
  });

  it.each([
    ['(\\d+)+x', 'nested repetition'],
    ['(a|ab)*c', 'nested repetition'],
    ['(\\w+\\s?)*$', 'nested repetition'],
    ['(a)\\1', 'back-reference'],
    ['(?<=x)\\d', 'look-around'],
    ['\\d*\\d*\\d*x', 'too many repetitions'],
    ['a{1,5000}', 'repeat count too large'],
    ['(ab', 'unbalanced'],
  ])('refuses %s (%s)', (pattern, why) => {
    expect(unsafeReason(pattern)).toBe(why);
    expect(() => compileCustomPattern({ label: 'x', pattern })).toThrow(
      expect.objectContaining({ name: 'CustomPatternError' }),
    );
  });

  it.each(['P-\\d{6}', '(\\d{2,4}-){2}\\d{4}', '[A-Z]{2}\\d+', '사건\\s?\\d+(?:-\\d+)?'])(
    'accepts %s',
    (pattern) => {
      expect(unsafeReason(pattern)).toBeNull();
      expect(compileCustomPattern({ label: 'x', pattern }).re.flags).toContain('u');
    },
  );

  it('refuses empty matches, invalid syntax, long patterns, too many, and one too slow on the probe', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code: string }).code;
      }
      return 'ok';
    };
    expect(code(() => compileCustomPattern({ label: 'x', pattern: '\\d?' }))).toBe('CUSTOM_PATTERN_INVALID');
    expect(code(() => compileCustomPattern({ label: 'x', pattern: '[z-a]' }))).toBe('CUSTOM_PATTERN_INVALID');
    expect(code(() => compileCustomPattern({ label: 'x', pattern: 'a'.repeat(121) }))).toBe(
      'CUSTOM_PATTERN_LIMIT',
    );
    expect(
      code(() => compileCustomPatterns(Array.from({ length: 21 }, () => ({ label: 'x', pattern: 'a' })))),
    ).toBe('CUSTOM_PATTERN_LIMIT');
    // The timing guard on its own: a clock that says every probe took a second.
    let t = 0;
    expect(code(() => compileCustomPattern({ label: 'x', pattern: 'P\\d+' }, () => (t += 1000)))).toBe(
      'CUSTOM_PATTERN_UNSAFE',
    );
  });
});
