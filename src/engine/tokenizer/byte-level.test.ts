import { describe, expect, it } from 'vitest';
import { byteChar, byteLevelDecode, byteLevelEncode } from './byte-level.ts';

describe('byte-level map (GPT-2)', () => {
  it('maps printable ASCII to itself and space/newline to Ġ/Ċ', () => {
    expect(byteChar(0x41)).toBe('A');
    expect(byteChar(0x20)).toBe('Ġ');
    expect(byteChar(0x0a)).toBe('Ċ');
    expect(byteChar(0xed)).toBe('í');
    expect(byteChar(0x00)).toBe('Ā');
  });

  it('encodes Hangul as three byte characters and decodes them back', () => {
    // 한 = ED 95 9C; 0x95 and 0x9C are not printable Latin-1, so they map above U+0100.
    const enc = byteLevelEncode('한');
    expect(enc.length).toBe(3);
    expect(enc[0]).toBe('í');
    expect(Array.from(byteLevelDecode(enc))).toEqual([0xed, 0x95, 0x9c]);
  });

  it('is a bijection over all 256 bytes', () => {
    const chars = new Set<string>();
    for (let b = 0; b < 256; b++) chars.add(byteChar(b));
    expect(chars.size).toBe(256);
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    let s = '';
    for (const b of all) s += byteChar(b);
    expect(byteLevelDecode(s)).toEqual(all);
  });
});
