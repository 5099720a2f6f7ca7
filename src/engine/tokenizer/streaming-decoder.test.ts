import { describe, expect, it } from 'vitest';
import { KO_LINES } from '../../testing/fixtures/ko-lines.ts';
import { tokenizerMetadata } from '../../testing/test-models.ts';
import { incompleteTail, StreamingDecoder, withoutReplacementChars } from './streaming-decoder.ts';
import { byteBpeMetadata } from '../../testing/test-vocab.ts';
import { createTokenizer } from './tokenizer.ts';
import { TokenType } from './vocab.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('incompleteTail', () => {
  it('holds back only a sequence that can still become valid', () => {
    const han = utf8('한'); // ED 95 9C
    expect(incompleteTail(han)).toBe(0);
    expect(incompleteTail(han.subarray(0, 1))).toBe(1);
    expect(incompleteTail(han.subarray(0, 2))).toBe(2);
    expect(incompleteTail(utf8('😀').subarray(0, 3))).toBe(3);
    expect(incompleteTail(Uint8Array.of(0x41, 0xe0, 0x80))).toBe(0); // overlong: never valid
    expect(incompleteTail(Uint8Array.of(0xed, 0xa0))).toBe(0); // surrogate range: never valid
    expect(incompleteTail(Uint8Array.of(0xff))).toBe(0);
  });
});

describe('StreamingDecoder', () => {
  // A byte-level vocabulary with no merges: every byte is its own token, so each Hangul syllable
  // (3 bytes) spans three tokens — the hardest case for a streaming decoder.
  const bytesTok = createTokenizer(
    byteBpeMetadata({ merges: [], extra: [{ text: '<|im_end|>', type: TokenType.Control }] }),
  );

  it('never emits U+FFFD for Korean split at every byte', () => {
    for (const line of KO_LINES) {
      const ids = bytesTok.encode(line);
      const dec = new StreamingDecoder(bytesTok);
      const chunks = ids.map((id) => dec.push(id));
      chunks.push(dec.flush());
      expect(chunks.join('')).toBe(line);
      for (const c of chunks) expect(c).not.toContain('\uFFFD');
      // Each chunk is emitted as soon as its character is complete.
      expect(chunks.filter((c) => c.length > 0).length).toBe([...line].length);
    }
  });

  it('emits the same text for every way of cutting the byte stream in two', () => {
    const text = '한국어 토큰화 😀 테스트';
    const bytes = utf8(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const dec = new StreamingDecoder(bytesTok);
      const a = dec.pushBytes(bytes.subarray(0, cut));
      const b = dec.pushBytes(bytes.subarray(cut));
      expect(a + b + dec.flush()).toBe(text);
      expect(a).not.toContain('\uFFFD');
    }
  });

  it('skips control tokens by default and shows them on request', () => {
    const end = bytesTok.tokenId('<|im_end|>') as number;
    const ids = [...bytesTok.encode('끝'), end];
    const quiet = new StreamingDecoder(bytesTok);
    expect(ids.map((id) => quiet.push(id)).join('')).toBe('끝');
    const loud = new StreamingDecoder(bytesTok, { skipSpecial: false });
    expect(ids.map((id) => loud.push(id)).join('')).toBe('끝<|im_end|>');
  });

  it('drops a character cut off at the end (a length finish mid-syllable) instead of U+FFFD', () => {
    const dec = new StreamingDecoder(bytesTok);
    expect(dec.push(0xed)).toBe('');
    expect(dec.pendingBytes).toBe(1);
    expect(dec.flush()).toBe('');
    expect(dec.droppedBytes).toBe(1);
    expect(dec.pendingBytes).toBe(0);
  });

  it('ends on whole characters wherever a Korean answer is cut by the token limit', () => {
    const text = '전입신고는 행정복지센터에서 합니다 😀';
    const ids = bytesTok.encode(text);
    for (let limit = 0; limit <= ids.length; limit++) {
      const dec = new StreamingDecoder(bytesTok);
      const out =
        ids
          .slice(0, limit)
          .map((id) => dec.push(id))
          .join('') + dec.flush();
      expect(out).not.toContain('\uFFFD');
      expect(text.startsWith(out)).toBe(true);
      // Only the unfinished character is lost (at most 3 bytes of a 4-byte one).
      expect(new TextEncoder().encode(out).length).toBeGreaterThanOrEqual(limit - 3);
    }
  });

  it('drops bytes that can never be valid UTF-8 instead of showing U+FFFD, and counts them', () => {
    const dec = new StreamingDecoder(bytesTok);
    // 0xff is never valid; 0xe0 0x80 is an overlong lead; a stray continuation byte 0x80.
    expect(dec.pushBytes(Uint8Array.of(0x41, 0xff, 0x42))).toBe('AB');
    expect(dec.pushBytes(Uint8Array.of(0xe0, 0x80, 0x43, 0x80))).toBe('C');
    expect(dec.pushBytes(new TextEncoder().encode('민원'))).toBe('민원');
    expect(dec.invalidSequences).toBe(4);
    expect(dec.flush()).toBe('');
  });

  it('withoutReplacementChars leaves text without U+FFFD as it is', () => {
    expect(withoutReplacementChars('전입신고 안내')).toBe('전입신고 안내');
    expect(withoutReplacementChars('\uFFFD전입\uFFFD\uFFFD')).toBe('전입');
  });

  it('streams a real vocabulary (Qwen3) token by token with the same text as decode()', async () => {
    const qwen = createTokenizer(new Map(await tokenizerMetadata('qwen3')));
    let splitTokens = 0;
    for (const line of KO_LINES) {
      const ids = qwen.encode(line);
      const dec = new StreamingDecoder(qwen);
      let out = '';
      for (const id of ids) {
        const piece = dec.push(id);
        expect(piece).not.toContain('\uFFFD');
        out += piece;
        if (incompleteTail(qwen.tokenBytes(id)) > 0) splitTokens++;
      }
      expect(out + dec.flush()).toBe(qwen.decode(ids));
      expect(out).toBe(line);
    }
    // The vocabulary really does split syllables across tokens in these lines.
    expect(splitTokens).toBeGreaterThan(0);
  });
});
