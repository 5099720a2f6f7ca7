/**
 * Runs the real launcher (`node bin/dure.js`, what `npx dure` runs) as a child process on a
 * generated test model and checks output, exit codes and the `error <CODE>: message` convention.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { readGguf } from '../engine/gguf/reader.ts';
import { createTokenizer, type Tokenizer } from '../engine/tokenizer/tokenizer.ts';
import { FileSource } from '../node/file-source.ts';
import { errorText } from '../protocol/errors.ts';
import { testModelPath } from '../testing/test-models.ts';

const BIN = fileURLToPath(new URL('../../bin/dure.js', import.meta.url));
const DIR = fileURLToPath(new URL('../../node_modules/.cache/dure/cli-test/', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function dure(...args: string[]): Promise<Result> {
  return dureWithEnv(process.env, ...args);
}

async function dureWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const TEXT = '<|im_start|>user\n주민등록등본은 어디서 발급하나요? (2024년)<|im_end|>\n';
let model: string;
let tokenizer: Tokenizer;

beforeAll(async () => {
  // A generated qwen2 model with the byte-level BPE vocabulary learned from the corpus.
  model = await testModelPath({ arch: 'qwen2', quant: 'Q8_0', tokenizer: 'corpus-bpe' });
  const source = await FileSource.open(model);
  try {
    tokenizer = createTokenizer((await readGguf(source)).metadata);
  } finally {
    await source.close();
  }
  mkdirSync(DIR, { recursive: true });
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

  it('re-spawns itself with SwiftShader settings when started without them, keeping output and exit code', async () => {
    const env = { ...process.env };
    delete env.VK_ICD_FILENAMES;
    delete env.LD_LIBRARY_PATH;
    const ok = await dureWithEnv(env, 'tokenize', '--model', model, '--text', '두레', '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ ids: tokenizer.encode('두레') });
    const bad = await dureWithEnv(env, 'no-such-command');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error CLI_ARGS: /);
  });

  it('tokenizes a text file: special tokens parsed, no BOS unless --add-bos', async () => {
    const expected = tokenizer.encode(TEXT, { parseSpecial: true });
    expect(expected[0]).toBe(tokenizer.tokenId('<|im_start|>'));
    const r = await dure('tokenize', '--model', model, '--text-file', `${DIR}text.txt`, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ids: expected });

    const bos = await dure('tokenize', '--model', model, '--text', '두레', '--add-bos');
    expect(bos.stdout.trim()).toBe([tokenizer.bosId, ...tokenizer.encode('두레')].join(','));
    const plain = await dure(
      'tokenize',
      '--model',
      model,
      '--text',
      '<|im_end|>',
      '--no-parse-special',
      '--json',
    );
    expect((JSON.parse(plain.stdout) as { ids: number[] }).ids).toEqual(tokenizer.encode('<|im_end|>'));
    expect(tokenizer.encode('<|im_end|>')).not.toContain(tokenizer.tokenId('<|im_end|>'));
  });

  it('detokenizes ids back to the exact text', async () => {
    const ids = tokenizer.encode(TEXT, { parseSpecial: true });
    const r = await dure('detokenize', '--model', model, '--ids', ids.join(','), '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ text: TEXT });
    const skip = await dure(
      'detokenize',
      '--model',
      model,
      '--ids',
      `[${ids.join(', ')}]`,
      '--skip-special',
      '--json',
    );
    expect(JSON.parse(skip.stdout)).toEqual({ text: 'user\n주민등록등본은 어디서 발급하나요? (2024년)\n' });
  });
});

// Independent processes: run them side by side to keep the suite short.
describe.concurrent('npx dure errors', () => {
  it.each([
    { args: () => ['tokenize', '--model', `${DIR}missing.gguf`, '--text', 'x'], code: 1, err: 'FILE_OPEN' },
    { args: () => ['tokenize', '--model', `${DIR}text.txt`, '--text', 'x'], code: 1, err: 'GGUF_BAD_MAGIC' },
    {
      args: () => ['tokenize', '--model', model, '--text-file', `${DIR}bad-utf8.txt`],
      code: 1,
      err: 'CLI_INPUT',
    },
    { args: () => ['tokenize', '--model', model], code: 2, err: 'CLI_ARGS' },
    { args: () => ['tokenize', '--bogus'], code: 2, err: 'CLI_ARGS' },
    { args: () => ['detokenize', '--model', model, '--ids', '1,-2'], code: 2, err: 'CLI_ARGS' },
    { args: () => ['detokenize', '--model', model, '--ids', '99999'], code: 1, err: 'TOKEN_ID_OUT_OF_RANGE' },
    { args: () => ['no-such-command'], code: 2, err: 'CLI_ARGS' },
  ])('fails with error $err', async ({ args, code, err }) => {
    const r = await dure(...args());
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    // The code and English detail, then the plain Korean sentence for the code.
    expect(r.stderr).toMatch(new RegExp(`^error ${err}: .+\\n  ${errorText(err, 'ko')}\\n$`));
  });
});
