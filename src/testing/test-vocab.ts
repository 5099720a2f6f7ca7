/**
 * Test support: small hand-made vocabularies as GGUF tokenizer metadata, so unit tests can state
 * expected ids from first principles.
 */
import { GgufValueType, type GgufKv } from '../engine/gguf/types.ts';
import { byteChar } from '../engine/tokenizer/byte-level.ts';
import { TokenType } from '../engine/tokenizer/vocab.ts';

export interface ExtraToken {
  text: string;
  type?: TokenType;
  score?: number;
}

const strArr = (value: string[]): GgufKv => ({
  type: GgufValueType.ARRAY,
  arrayType: GgufValueType.STRING,
  value,
});
const i32Arr = (value: number[]): GgufKv => ({
  type: GgufValueType.ARRAY,
  arrayType: GgufValueType.INT32,
  value: Int32Array.from(value),
});
const f32Arr = (value: number[]): GgufKv => ({
  type: GgufValueType.ARRAY,
  arrayType: GgufValueType.FLOAT32,
  value: Float32Array.from(value),
});
const u32 = (value: number): GgufKv => ({ type: GgufValueType.UINT32, value });
const bool = (value: boolean): GgufKv => ({ type: GgufValueType.BOOL, value });
const str = (value: string): GgufKv => ({ type: GgufValueType.STRING, value });

/**
 * Byte-level BPE: ids 0..255 are the 256 byte characters (id = byte value); each merge "l r" adds
 * the token l+r (in merge order, ids 256...) unless it already exists; then `extra` tokens.
 */
export function byteBpeMetadata(opts: {
  pre?: string;
  merges: string[];
  extra?: ExtraToken[];
  bos?: number;
  eos?: number;
  addBos?: boolean;
}): Map<string, GgufKv> {
  const tokens: string[] = [];
  const types: number[] = [];
  for (let b = 0; b < 256; b++) {
    tokens.push(byteChar(b));
    types.push(TokenType.Normal);
  }
  for (const m of opts.merges) {
    const [l, r] = m.split(' ') as [string, string];
    if (!tokens.includes(l + r)) {
      tokens.push(l + r);
      types.push(TokenType.Normal);
    }
  }
  for (const e of opts.extra ?? []) {
    tokens.push(e.text);
    types.push(e.type ?? TokenType.Control);
  }
  const md = new Map<string, GgufKv>([
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.tokens', strArr(tokens)],
    ['tokenizer.ggml.token_type', i32Arr(types)],
    ['tokenizer.ggml.merges', strArr(opts.merges)],
  ]);
  if (opts.pre !== undefined) md.set('tokenizer.ggml.pre', str(opts.pre));
  if (opts.bos !== undefined) md.set('tokenizer.ggml.bos_token_id', u32(opts.bos));
  if (opts.eos !== undefined) md.set('tokenizer.ggml.eos_token_id', u32(opts.eos));
  if (opts.addBos !== undefined) md.set('tokenizer.ggml.add_bos_token', bool(opts.addBos));
  return md;
}

/**
 * SentencePiece-style: ids 0..2 are <unk> <s> </s>, 3..258 the byte tokens <0x00>..<0xFF>, then
 * `pieces` in order (normal tokens with the given scores).
 */
export function spmMetadata(opts: { pieces: ExtraToken[]; addSpacePrefix?: boolean }): Map<string, GgufKv> {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.Unknown, TokenType.Control, TokenType.Control];
  const scores = [0, 0, 0];
  const hex = '0123456789ABCDEF';
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${hex[b >> 4]}${hex[b & 15]}>`);
    types.push(TokenType.Byte);
    scores.push(0);
  }
  for (const p of opts.pieces) {
    tokens.push(p.text);
    types.push(p.type ?? TokenType.Normal);
    scores.push(p.score ?? 0);
  }
  const md = new Map<string, GgufKv>([
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', strArr(tokens)],
    ['tokenizer.ggml.token_type', i32Arr(types)],
    ['tokenizer.ggml.scores', f32Arr(scores)],
  ]);
  if (opts.addSpacePrefix !== undefined) md.set('tokenizer.ggml.add_space_prefix', bool(opts.addSpacePrefix));
  return md;
}
