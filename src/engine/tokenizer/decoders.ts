/**
 * Decoders: the raw bytes of one token (llama.cpp `token_to_piece` with `special = true`).
 * CONTROL, UNKNOWN and USER_DEFINED tokens render as their text; BYTE tokens as their byte; normal
 * tokens through the model's own text mapping (byte-level characters, or `▁` for a space).
 */
import { byteLevelDecode } from './byte-level.ts';
import { Attr, type Vocab } from './vocab.ts';

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

export abstract class PieceDecoder {
  private readonly cache: (Uint8Array | undefined)[] = [];

  constructor(protected readonly vocab: Vocab) {}

  /** Bytes of token `id` (the caller checks the range). */
  piece(id: number): Uint8Array {
    let p = this.cache[id];
    if (p === undefined) {
      p = this.compute(id);
      this.cache[id] = p;
    }
    return p;
  }

  private compute(id: number): Uint8Array {
    const attr = this.vocab.attr(id);
    const text = this.vocab.text(id);
    if (attr & (Attr.Control | Attr.Unknown | Attr.UserDefined)) return encoder.encode(text);
    if (attr & Attr.Normal) return this.normal(text);
    if (attr & Attr.Byte) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
      return m ? Uint8Array.of(parseInt(m[1] as string, 16)) : encoder.encode(text);
    }
    // UNUSED / UNDEFINED tokens render as nothing, as in llama.cpp.
    return EMPTY;
  }

  protected abstract normal(text: string): Uint8Array;
}

export class ByteLevelDecoder extends PieceDecoder {
  protected normal(text: string): Uint8Array {
    return byteLevelDecode(text);
  }
}

export class SpmDecoder extends PieceDecoder {
  protected normal(text: string): Uint8Array {
    return encoder.encode(text.replaceAll('\u2581', ' '));
  }
}

/**
 * llama.cpp's `clean_spaces` pass over detokenized text (removes the space before `?!.,` and in
 * some English contractions). Operates on bytes exactly as llama.cpp does; all touched bytes are ASCII.
 */
export function cleanSpaces(bytes: Uint8Array): Uint8Array {
  const SP = 0x20;
  const Q = 0x27;
  const pass1: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const x = bytes[i] as number;
    if (i > 0 && bytes[i - 1] === SP && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) pass1.pop();
    pass1.push(x);
  }
  // The third byte of " ' " is zeroed, as llama.cpp does, so it cannot start another match.
  const t = pass1;
  const pass2: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const x = t[i] as number;
    if (i > 0 && x === Q && i + 1 < t.length && t[i - 1] === SP && t[i + 1] === SP) {
      pass2.pop();
      t[++i] = 0;
    }
    pass2.push(x);
  }
  const pass3: number[] = [];
  for (let i = 0; i < pass2.length; i++) {
    const x = pass2[i] as number;
    if (i > 0 && pass2[i - 1] === SP && x === Q && i + 1 < pass2.length) {
      const x1 = pass2[i + 1];
      const x2 = i + 2 < pass2.length ? pass2[i + 2] : undefined;
      // " 's", " 'm", " 're", " 've" lose their space; " 't", " 'd", " 'll" keep it.
      if (x1 === 0x73 || x1 === 0x6d || ((x1 === 0x72 || x1 === 0x76) && x2 === 0x65)) pass3.pop();
    }
    pass3.push(x);
  }
  return Uint8Array.from(pass3);
}
