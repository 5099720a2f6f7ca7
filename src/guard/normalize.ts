/**
 * Text normalisation before matching, so the usual disguises of a request do not get past the
 * rules: full-width and compatibility forms (NFKC), zero-width and other invisible format
 * characters, Hangul typed as loose jamo (ㅍㅗㄱㅌㅏㄴ), leetspeak in Latin words (h4ck1ng), and
 * spacing or punctuation between syllables (폭 탄, 마.약). Rules match the `compact` form, which has
 * no spaces or punctuation at all.
 */

export interface NormalizedText {
  /** NFKC, invisibles removed, jamo composed, leet undone; case and spacing kept. */
  text: string;
  /** `text` lower-cased with every character that is not a letter or digit removed. */
  compact: string;
  /** The input carried invisible format characters (a common obfuscation). */
  hadInvisible: boolean;
}

// Unicode "format" characters (zero-width space/joiners, BOM, bidi marks, soft hyphen…) and the
// Hangul filler, which renders as nothing.
const INVISIBLE = /\p{Cf}|[\u115F\u1160\u3164\uFFA0]|\u034F/gu;

const CHOSEONG = 'ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ';
const JONGSEONG = ' ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ';
const isVowel = (c: string | undefined) => c !== undefined && c >= 'ㅏ' && c <= 'ㅣ';

/** Composes runs of compatibility jamo (ㅍㅗㄱ) into syllables (폭); other text is unchanged. */
export function composeJamo(text: string): string {
  const chars = [...text];
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const lead = CHOSEONG.indexOf(c);
    const vowel = chars[i + 1];
    if (lead < 0 || !isVowel(vowel)) {
      out += c;
      continue;
    }
    const v = vowel!.charCodeAt(0) - 'ㅏ'.charCodeAt(0);
    // A following consonant is a final only when no vowel comes after it (else it leads the next).
    const next = chars[i + 2];
    const tail = next !== undefined && !isVowel(chars[i + 3]) ? JONGSEONG.indexOf(next) : -1;
    const t = tail > 0 ? tail : 0;
    out += String.fromCharCode(0xac00 + (lead * 21 + v) * 28 + t);
    i += t > 0 ? 2 : 1;
  }
  return out;
}

const LEET: Record<string, string> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
};

/** Undoes leetspeak in Latin words that mix letters and digits (1gn0re → ignore, not 3D or 2026). */
export function undoLeet(text: string): string {
  return text.replace(/[A-Za-z0-9@$]+/g, (word) => {
    const letters = (word.match(/[A-Za-z]/g) ?? []).length;
    // A number at the end is a name (rot13, mp3, covid19), not a disguise.
    if (letters < 2 || letters === word.length || /^[A-Za-z]+\d+$/.test(word)) return word;
    return word.replace(/[0134573@$]/g, (c) => LEET[c] ?? c);
  });
}

export function normalize(input: string): NormalizedText {
  const visible = input.replace(INVISIBLE, '');
  // Jamo first: NFKC turns compatibility jamo into conjoining ones that no longer compose.
  const text = undoLeet(composeJamo(visible).normalize('NFKC').replace(INVISIBLE, ''));
  const compact = text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]/gu, '')
    // Digits wedged between syllables are a disguise (폭1탄), not a number.
    .replace(/(?<=[가-힣])\d(?=[가-힣])/g, '');
  return { text, compact, hadInvisible: visible.length !== input.length };
}

const rot13 = (s: string) =>
  s.replace(/[A-Za-z]/g, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });

const BASE64_RUN = /[A-Za-z0-9+/]{16,}={0,2}/g;

/**
 * Decodes what the text hides: base64 runs that hold readable UTF-8 text, and the whole text
 * under ROT13 when it mentions ROT13, reversed when it
 * asks to read backwards. The decoded text is checked like any other; runs that
 * decode to binary are ignored.
 */
export function decodeHidden(text: string): string[] {
  const found: string[] = /rot-?13/i.test(text) ? [rot13(text)] : [];
  // "Read this backwards and follow it": the reversed text is checked too.
  if (/거꾸로|뒤집어|backwards|reverse/i.test(text)) found.push([...text].reverse().join(''));
  for (const m of text.matchAll(BASE64_RUN)) {
    const run = m[0];
    if (run.length % 4 === 1) continue;
    try {
      const bytes = Uint8Array.from(atob(run.padEnd(Math.ceil(run.length / 4) * 4, '=')), (c) =>
        c.charCodeAt(0),
      );
      const decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      const printable = decoded.replace(/[^\p{L}\p{N}\p{P}\p{Zs}]/gu, '').length;
      if (decoded.length >= 8 && printable / decoded.length > 0.9) found.push(decoded);
    } catch {
      // Not base64 or not UTF-8: an ordinary long word.
    }
  }
  return found;
}
