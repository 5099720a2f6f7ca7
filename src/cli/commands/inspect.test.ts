import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeGguf, kv } from '../../tools/gguf/writer.ts';
import { testModelPath, tokenizerMetadata, TEST_DIMS } from '../../testing/test-models.ts';
import { run, type InspectReport } from './inspect.ts';

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await run(argv);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('dure inspect', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dure-inspect-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a Q4_K_M gemma2 model as one JSON object', async () => {
    const path = await testModelPath({ arch: 'gemma2', quant: 'Q4_K_M' });
    const { code, out, err } = await capture(['--model', path, '--json']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out.trim().split('\n')).toHaveLength(1);
    const r = JSON.parse(out) as InspectReport;
    expect(r.architecture).toBe('gemma2');
    expect(r.architectureSupported).toBe(true);
    expect(r.fileType).toBe('Q4_K_M');
    expect(r.hyperparameters).toMatchObject({
      embeddingLength: TEST_DIMS.nEmbd,
      blockCount: TEST_DIMS.nLayer,
      headCount: TEST_DIMS.nHead,
      headCountKv: TEST_DIMS.nHeadKv,
      rmsNormEpsilon: 1e-6,
      finalLogitSoftcapping: 30,
      slidingWindow: 64,
    });
    // Q4_K_M: Q6_K for attn_v and ffn_down of the last layer (llama.cpp's use_more_bits) and for the
    // tied embedding, which llama.cpp quantizes as the output; Q4_K else.
    expect(r.tensorTypes.q6_K?.tensors).toBe(3);
    expect(r.tensorTypes.q4_K?.tensors).toBe(12);
    expect(Object.values(r.tensorTypes).reduce((a, t) => a + t.parameters, 0)).toBe(r.parameters);
    // 4096 tokens when learned from ../shared/corpus; fewer from Dure's fixtures without it.
    const vocab = (await tokenizerMetadata('corpus-bpe')).find(([k]) => k === 'tokenizer.ggml.tokens');
    const vocabSize = (vocab?.[1].value as string[]).length;
    expect(r.tokenizer).toMatchObject({ model: 'gpt2', pre: 'qwen2', vocabSize, addBosToken: false });
    expect(r.chatTemplate.present).toBe(true);
  });

  it('prints a bilingual summary without --json', async () => {
    const path = await testModelPath({ arch: 'llama', quant: 'Q8_0' });
    const { code, out } = await capture(['--model', path]);
    expect(code).toBe(0);
    expect(out).toContain('아키텍처 / architecture: llama');
    expect(out).toContain('q8_0:');
  });

  it('marks an unknown architecture instead of failing', async () => {
    const path = join(dir, 'mamba.gguf');
    await writeFile(path, writeGguf({ metadata: [['general.architecture', kv.str('mamba')]], tensors: [] }));
    const { code, out } = await capture(['--model', path, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({
      architecture: 'mamba',
      architectureSupported: false,
      parameters: 0,
    });
  });

  it('fails with error codes on stderr', async () => {
    const notGguf = join(dir, 'x.gguf');
    await writeFile(notGguf, 'hello world, not a model');
    for (const [argv, code, pattern] of [
      [['--model', join(dir, 'missing.gguf')], 1, /^error FILE_OPEN: /],
      [['--model', notGguf], 1, /^error GGUF_BAD_MAGIC: /],
      [[], 2, /^error CLI_ARGS: /],
      [['--model'], 2, /^error CLI_ARGS: /],
    ] as const) {
      const r = await capture([...argv]);
      expect(r.code).toBe(code);
      expect(r.out).toBe('');
      expect(r.err).toMatch(pattern);
    }
  });
});
