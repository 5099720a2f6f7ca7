import { describe, expect, it } from 'vitest';
import { isSendKey } from './ime.ts';

const enter = { key: 'Enter', shiftKey: false, isComposing: false, keyCode: 13 };

describe('isSendKey', () => {
  it('sends on a plain Enter', () => expect(isSendKey(enter, false)).toBe(true));
  it('never sends while the IME reports composition', () =>
    expect(isSendKey({ ...enter, isComposing: true }, false)).toBe(false));
  it('never sends on Safari-style keyCode 229 after compositionend', () =>
    expect(isSendKey({ ...enter, keyCode: 229 }, false)).toBe(false));
  it('never sends between compositionstart and compositionend', () =>
    expect(isSendKey(enter, true)).toBe(false));
  it('Shift+Enter is a new line', () => expect(isSendKey({ ...enter, shiftKey: true }, false)).toBe(false));
  it('other keys do nothing', () =>
    expect(isSendKey({ ...enter, key: 'a', keyCode: 65 }, false)).toBe(false));
});
