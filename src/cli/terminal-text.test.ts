import { describe, expect, it } from 'vitest';
import { forTerminal } from './terminal-text.ts';

describe('forTerminal', () => {
  it('drops escape sequences, NUL, bell, backspace, carriage return, DEL and C1 controls', () => {
    const hostile = '안내\u001b]0;pwned\u0007입니다\u0000\b\r\u007f\u009b31m끝';
    expect(forTerminal(hostile)).toBe('안내]0;pwned입니다31m끝');
    const codes = [...forTerminal(hostile)].map((c) => c.codePointAt(0)!);
    expect(codes.filter((c) => (c < 0x20 && c !== 9 && c !== 10) || (c >= 0x7f && c <= 0x9f))).toEqual([]);
  });

  it('keeps Korean, tabs, newlines and everything printable', () => {
    const s = '전입신고는\t주민센터에서 합니다.\n[1] 두레시 › 전입신고 ~ €';
    expect(forTerminal(s)).toBe(s);
  });
});
