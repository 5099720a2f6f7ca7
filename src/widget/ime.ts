/**
 * Korean IME safety. While Hangul is being composed, Enter commits the syllable; it
 * must never also send. Browsers disagree on how they report that Enter: `isComposing` (Chrome,
 * Firefox), keyCode 229 (Safari fires compositionend *before* the keydown), so all three signals
 * are checked, plus our own compositionstart/compositionend bookkeeping.
 */
export interface EnterLike {
  key: string;
  shiftKey: boolean;
  isComposing: boolean;
  keyCode: number;
}

/** True when this keydown should send the message. */
export function isSendKey(e: EnterLike, composing: boolean): boolean {
  if (e.key !== 'Enter' || e.shiftKey) return false;
  if (composing || e.isComposing || e.keyCode === 229) return false;
  return true;
}
