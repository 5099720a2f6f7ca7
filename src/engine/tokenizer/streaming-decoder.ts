/**
 * Turns token ids arriving one at a time into text without ever splitting a UTF-8 character:
 * byte-level tokens can end in the middle of a Hangul syllable (3 bytes), so the bytes of an
 * incomplete trailing sequence are held back until the next token completes them, and dropped if the
 * stream ends first. Bytes that can never become valid UTF-8 (a random or hostile model can emit
 * them) are dropped rather than shown as U+FFFD: a citizen never sees a replacement character.
 */
import type { Tokenizer } from './tokenizer.ts';

export interface StreamingDecoderOptions {
  /** Emit nothing for CONTROL/UNKNOWN tokens (e.g. `<|im_end|>`). Default true. */
  skipSpecial?: boolean;
}

/** How many bytes a UTF-8 sequence starting with `b` has (0 for a continuation/invalid lead). */
function sequenceLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/**
 * Length of the incomplete-but-possibly-valid sequence at the end of `bytes` (0 if none).
 * Checks the second byte's narrower ranges (E0, ED, F0, F4) so that a prefix that can never be
 * valid is not held back.
 */
export function incompleteTail(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = bytes[n - back] as number;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const len = sequenceLength(b);
    if (len <= back) return 0; // complete (or invalid): nothing to hold
    for (let i = 1; i < back; i++) {
      const c = bytes[n - back + i] as number;
      if ((c & 0xc0) !== 0x80) return 0;
      if (i === 1) {
        if (b === 0xe0 && c < 0xa0) return 0;
        if (b === 0xed && c > 0x9f) return 0;
        if (b === 0xf0 && c < 0x90) return 0;
        if (b === 0xf4 && c > 0x8f) return 0;
      }
    }
    return back;
  }
  return 0;
}

/** Removes U+FFFD (what a decoder makes of invalid bytes) from text about to be shown. */
export function withoutReplacementChars(text: string): string {
  return text.includes('\uFFFD') ? text.replace(/\uFFFD/g, '') : text;
}

export class StreamingDecoder {
  private pending = new Uint8Array(0);
  private readonly decoder = new TextDecoder();
  private readonly skipSpecial: boolean;

  constructor(
    private readonly tokenizer: Tokenizer,
    options: StreamingDecoderOptions = {},
  ) {
    this.skipSpecial = options.skipSpecial ?? true;
  }

  /**
   * Adds one token and returns the text that is now complete ('' while a character is still open).
   * @throws {TokenIdError} for an id outside the vocabulary.
   */
  push(id: number): string {
    const piece = this.tokenizer.tokenBytes(id);
    if (this.skipSpecial && this.tokenizer.isControl(id)) return '';
    return this.pushBytes(piece);
  }

  /** Adds raw bytes (e.g. several tokens at once) and returns the completed text. */
  pushBytes(piece: Uint8Array): string {
    const buf = new Uint8Array(this.pending.length + piece.length);
    buf.set(this.pending);
    buf.set(piece, this.pending.length);
    const hold = incompleteTail(buf);
    this.pending = buf.slice(buf.length - hold);
    const text = this.decoder.decode(buf.subarray(0, buf.length - hold));
    const shown = withoutReplacementChars(text);
    if (shown.length !== text.length) this.invalidSequences += text.length - shown.length;
    return shown;
  }

  /** Bytes currently held back. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /**
   * Ends the stream. The bytes still held back are the start of a character that never finished
   * (generation stopped at the token limit in the middle of a Hangul syllable): they are dropped,
   * not shown as U+FFFD, so the text ends on whole characters. `droppedBytes` says how many.
   */
  flush(): string {
    this.droppedBytes = this.pending.length;
    this.pending = new Uint8Array(0);
    return '';
  }

  /** Bytes of an unfinished character the last `flush` dropped. */
  droppedBytes = 0;

  /** Invalid UTF-8 sequences dropped so far (each would have been one U+FFFD). */
  invalidSequences = 0;
}
