/**
 * GPT-2's reversible byte ↔ printable-character map used by byte-level BPE vocabularies: every
 * byte becomes one character (U+0021..U+017F region), so a token's text is a string of such
 * characters and decoding maps them back to raw bytes.
 */

const BYTE_TO_CHAR: string[] = [];
const CHAR_TO_BYTE = new Map<number, number>();

(function build(): void {
  const direct = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    const cp = direct(b) ? b : 256 + next++;
    BYTE_TO_CHAR[b] = String.fromCharCode(cp);
    CHAR_TO_BYTE.set(cp, b);
  }
})();

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`, each mapped to its byte-level character. */
export function byteLevelEncode(text: string): string {
  const bytes = encoder.encode(text);
  let out = '';
  for (const b of bytes) out += BYTE_TO_CHAR[b];
  return out;
}

/** The byte-level character of one byte. */
export function byteChar(b: number): string {
  return BYTE_TO_CHAR[b & 0xff] ?? '';
}

/**
 * Raw bytes of a byte-level token text. Characters outside the map (which a well-formed vocabulary
 * never has) are kept as their own UTF-8, so nothing is silently dropped.
 */
export function byteLevelDecode(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const b = CHAR_TO_BYTE.get(cp);
    if (b !== undefined) out.push(b);
    else for (const x of encoder.encode(ch)) out.push(x);
  }
  return Uint8Array.from(out);
}
