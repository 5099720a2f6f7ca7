/**
 * Model output and knowledge-base text printed to a terminal. A hostile model or document can
 * emit control characters: ESC starts sequences that move the cursor, rewrite earlier lines, set
 * the window title or (in some terminals) write files. Only tab and newline pass; every other C0
 * control, DEL and the C1 controls (U+0080–U+009F, ESC's single-character form) are dropped.
 * JSON output needs none of this: JSON.stringify escapes them.
 */
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function forTerminal(text: string): string {
  return text.replace(CONTROLS, '');
}
