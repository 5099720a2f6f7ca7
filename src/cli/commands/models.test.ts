/**
 * `dure models`: the catalogue as a Korean table, English on request and JSON for machines, with
 * unverified hashes said so; `dure models add` registers a generated model and refuses a corrupt
 * file with the plain Korean reason, writing nothing.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ARCHITECTURES } from '../../engine/model/config.ts';
import { testModelPath } from '../../testing/test-models.ts';
import { engineStatus, loadCatalogue, run, type CatalogueEntry } from './models.ts';

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

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dure-models-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dure models', () => {
  it('lists the catalogue as JSON: hashes are hex or null (then unverified), sources are hub URLs', async () => {
    const { code, out } = await capture(['--json']);
    expect(code).toBe(0);
    const models = (JSON.parse(out) as { models: (CatalogueEntry & { verified: boolean })[] }).models;
    expect(models.map((m) => m.name)).toEqual(
      expect.arrayContaining(['Qwen2.5-0.5B-Instruct', 'EXAONE-4.0-1.2B', 'Gemma-3-1B-it']),
    );
    for (const m of models) {
      expect(m.verified).toBe(m.sha256 !== null);
      if (m.sha256 !== null) {
        expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
        // A hash is only as good as the page that states it, at the same commit as the download.
        expect(m.hashFrom).toBe(m.url!.replace('/resolve/', '/blob/'));
      }
      for (const u of [m.url, m.hashFrom, m.repo, m.licenseUrl])
        if (u) expect(u).toMatch(/^https:\/\/(huggingface\.co|ai\.google\.dev)\//);
      expect(m.license.length).toBeGreaterThan(0);
    }
  });

  it('prints a Korean table that says which hashes are unverified, and English with --lang en', async () => {
    const ko = await capture([]);
    expect(ko.code).toBe(0);
    expect(ko.out).toContain('| 모델');
    expect(ko.out).toContain('확인 필요');
    expect(ko.out).toContain('npx dure models add');
    const en = await capture(['--lang', 'en']);
    expect(en.out).toContain('| Model');
    expect(en.out).toContain('unverified');
  });

  it("computes from this build's engine whether an entry runs", async () => {
    const models = await loadCatalogue();
    for (const m of models) {
      const s = engineStatus(m);
      expect(s.missing.includes(m.architecture)).toBe(
        !(ARCHITECTURES as readonly string[]).includes(m.architecture),
      );
    }
  });
});

describe('dure models add', () => {
  it('registers a generated model into --models-dir', async () => {
    const path = await testModelPath({ arch: 'llama', quant: 'Q8_0' });
    const out = join(dir, 'ok');
    const r = await capture([
      'add',
      path,
      '--models-dir',
      out,
      '--name',
      '테스트 모델',
      '--id',
      'test-llama',
      '--json',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { descriptor: { id: string; name: string }; catalogue: string | null };
    expect(j.catalogue).toBeNull();
    expect(j.descriptor).toMatchObject({ id: 'test-llama', name: '테스트 모델' });
    expect((await readdir(out)).sort()).toEqual(['registry.json', 'test-llama.gguf', 'test-llama.json']);
    expect(JSON.parse(await readFile(join(out, 'registry.json'), 'utf8'))).toMatchObject({
      default: 'test-llama',
    });
    // Back to Dure's own demo model, and an unknown id is refused.
    expect((await capture(['use', 'demo', '--models-dir', out])).code).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'registry.json'), 'utf8'))).toMatchObject({ default: 'demo' });
    const unknown = await capture(['use', 'nope', '--models-dir', out]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('error CLI_ARGS: no registered model "nope"');
  });

  it('refuses a corrupt file with a Korean reason and the typed code, registering nothing', async () => {
    // A real model cut inside its header, as an interrupted download leaves it.
    const bad = join(dir, 'bad.gguf');
    await writeFile(
      bad,
      (await readFile(await testModelPath({ arch: 'llama', quant: 'Q8_0' }))).subarray(0, 300),
    );
    const out = join(dir, 'bad');
    const r = await capture(['add', bad, '--models-dir', out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^모델 파일이 중간에 끊겨 있습니다\./);
    expect(r.err).toContain('error GGUF_TRUNCATED:');
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
});
