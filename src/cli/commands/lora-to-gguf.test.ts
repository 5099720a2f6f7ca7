import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemorySource } from '../../engine/gguf/sources.ts';
import { readGguf } from '../../engine/gguf/reader.ts';
import { randomAdapter } from '../../testing/random-adapter.ts';
import { writeSafetensors } from '../../protocol/safetensors.ts';
import { testModelPath, TEST_DIMS } from '../../testing/test-models.ts';
import { run } from './lora-to-gguf.ts';

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await run(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const DIMS = {
  nLayer: TEST_DIMS.nLayer,
  nEmbd: TEST_DIMS.nEmbd,
  nHead: TEST_DIMS.nHead,
  nKv: TEST_DIMS.nHeadKv,
  headDim: TEST_DIMS.headDim,
  nFf: TEST_DIMS.nFf,
};

describe('dure lora-to-gguf', () => {
  let dir = '';
  let adapterDir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dure-lora-'));
    adapterDir = join(dir, 'my-adapter');
    await mkdir(adapterDir);
    const lora = randomAdapter(DIMS, {
      rank: 4,
      alpha: 8,
      targetModules: ['q_proj', 'o_proj'],
      seed: 9,
      bStd: 0.1,
    });
    const tensors = [...lora.tensors].map(([name, data]) => {
      const rows = name.includes('lora_A') ? 4 : data.length / 4;
      return { name, shape: [rows, data.length / rows], data };
    });
    await writeFile(join(adapterDir, 'adapter_model.safetensors'), writeSafetensors(tensors));
    await writeFile(
      join(adapterDir, 'adapter_config.json'),
      JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'o_proj'] }),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('converts a PEFT folder for a base model into a llama.cpp adapter GGUF', async () => {
    const base = await testModelPath({ arch: 'qwen2', quant: 'Q8_0' });
    const out = join(dir, 'out.gguf');
    const r = await capture(['--adapter', adapterDir, '--base', base, '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/8 tensors, rank 4, alpha 8/);
    const f = await readGguf(new MemorySource(new Uint8Array(await readFile(out))));
    expect(f.metadata.get('general.architecture')?.value).toBe('qwen2');
    expect(f.metadata.get('general.name')?.value).toBe('my-adapter');
    expect(f.tensors.map((t) => t.name).sort()).toEqual(
      [0, 1].flatMap((l) =>
        ['attn_output', 'attn_q'].flatMap((m) => [
          `blk.${l}.${m}.weight.lora_a`,
          `blk.${l}.${m}.weight.lora_b`,
        ]),
      ),
    );
  });

  it('accepts the safetensors file itself and reports usage and input errors with codes', async () => {
    const base = await testModelPath({ arch: 'llama', quant: 'F32' });
    const out = join(dir, 'out2.gguf');
    const ok = await capture([
      '--adapter',
      join(adapterDir, 'adapter_model.safetensors'),
      '--base',
      base,
      '--out',
      out,
    ]);
    expect(ok.code).toBe(0);

    const missing = await capture(['--adapter', adapterDir, '--out', out]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^error CLI_ARGS: --base is required/);

    const nowhere = await capture(['--adapter', join(dir, 'nope'), '--base', base, '--out', out]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.err).toMatch(/^error FILE_OPEN:/);

    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ r: 4, target_modules: ['q_proj'] }));
    await writeFile(join(dir, 'adapter_model.safetensors'), new Uint8Array([1, 2, 3]));
    const corrupt = await capture(['--adapter', dir, '--base', base, '--out', out]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.err).toMatch(/^error LORA_ADAPTER: adapter_model.safetensors/);
  });
});
