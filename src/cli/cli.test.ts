/**
 * Runs the real launcher (`node bin/dure.js`, what `npx dure` runs) as a child process on a
 * generated GGUF and checks output, exit codes and the `error <CODE>: message` convention.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { metadataOnlyGguf, tinyLlamaArchMetadata } from '../engine/tokenizer/gguf-fixture.ts';
import { byteBpeMetadata } from '../engine/tokenizer/test-vocab.ts';
import { createTokenizer } from '../engine/tokenizer/tokenizer.ts';
import { TokenType } from '../engine/tokenizer/vocab.ts';

const BIN = fileURLToPath(new URL('../../bin/dure.js', import.meta.url));
const DIR = fileURLToPath(new URL('../../node_modules/.cache/dure/cli-test/', import.meta.url));
const MODEL = `${DIR}tiny-bpe.gguf`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function dure(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

// A byte-level vocabulary with a few merges, Korean-free on purpose: Hangul then falls back to one
// token per byte, which the detokenize round trip must reassemble.
const metadata = byteBpeMetadata({
  pre: 'qwen2',
  merges: ['a b', 'ab c', 'Ġ a'],
  extra: [
    { text: '<|im_start|>' },
    { text: '<|im_end|>' },
    { text: '<|endoftext|>', type: TokenType.Control },
  ],
  bos: 261,
  eos: 260,
});
const tokenizer = createTokenizer(metadata);
const TEXT = '<|im_start|>abc 안녕하세요\n두레 abc<|im_end|>\n';

beforeAll(() => {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(MODEL, metadataOnlyGguf(new Map([...tinyLlamaArchMetadata(), ...metadata])));
  writeFileSync(`${DIR}text.txt`, TEXT);
  writeFileSync(`${DIR}bad-utf8.txt`, Uint8Array.of(0x61, 0xff, 0x62));
});

describe('npx dure', () => {
  it('prints bilingual help', async () => {
    const r = await dure('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('사용법 / usage');
    for (const c of ['inspect', 'tokenize', 'detokenize', 'generate', 'logits'])
      expect(r.stdout).toContain(c);
  });

  it('tokenizes a text file: special tokens parsed, no BOS unless --add-bos', async () => {
    const expected = tokenizer.encode(TEXT, { parseSpecial: true });
    expect(expected[0]).toBe(259); // <|im_start|> as one token
    const r = await dure('tokenize', '--model', MODEL, '--text-file', `${DIR}text.txt`, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ids: expected });

    const bos = await dure('tokenize', '--model', MODEL, '--text', 'abc', '--add-bos');
    expect(bos.stdout.trim()).toBe('261,257');
    const plain = await dure(
      'tokenize',
      '--model',
      MODEL,
      '--text',
      '<|im_end|>',
      '--no-parse-special',
      '--json',
    );
    expect((JSON.parse(plain.stdout) as { ids: number[] }).ids).not.toContain(260);
  });

  it('detokenizes ids back to the exact text, Hangul included', async () => {
    const ids = tokenizer.encode(TEXT, { parseSpecial: true });
    const r = await dure('detokenize', '--model', MODEL, '--ids', ids.join(','), '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ text: TEXT });
    const skip = await dure(
      'detokenize',
      '--model',
      MODEL,
      '--ids',
      `[${ids.join(', ')}]`,
      '--skip-special',
      '--json',
    );
    expect(JSON.parse(skip.stdout)).toEqual({ text: 'abc 안녕하세요\n두레 abc\n' });
  });
});

// Independent processes: run them side by side to keep the suite short.
describe.concurrent('npx dure errors', () => {
  it.each([
    { args: ['tokenize', '--model', `${DIR}missing.gguf`, '--text', 'x'], code: 1, err: 'FILE_OPEN' },
    { args: ['tokenize', '--model', `${DIR}text.txt`, '--text', 'x'], code: 1, err: 'GGUF_BAD_MAGIC' },
    { args: ['tokenize', '--model', MODEL, '--text-file', `${DIR}bad-utf8.txt`], code: 1, err: 'CLI_INPUT' },
    { args: ['tokenize', '--model', MODEL], code: 2, err: 'CLI_ARGS' },
    { args: ['tokenize', '--bogus'], code: 2, err: 'CLI_ARGS' },
    { args: ['detokenize', '--model', MODEL, '--ids', '1,-2'], code: 2, err: 'CLI_ARGS' },
    { args: ['detokenize', '--model', MODEL, '--ids', '99999'], code: 1, err: 'TOKEN_ID_OUT_OF_RANGE' },
    { args: ['no-such-command'], code: 2, err: 'CLI_ARGS' },
  ])('fails with error $err for $args', async ({ args, code, err }) => {
    const r = await dure(...args);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^error ${err}: .+\\n$`));
  });
});
