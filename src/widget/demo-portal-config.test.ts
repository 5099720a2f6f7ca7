/**
 * The demo portal's page script (public/demo/demo-config.js) picks up the model an operator
 * registered with `dure models add` / `DURE_MODEL=… npm start`: run as the page runs it, against a
 * stand-in element and the registry files it fetches.
 */
import { readFile } from 'node:fs/promises';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';

const script = readFile(new URL('../../public/demo/demo-config.js', import.meta.url), 'utf8');

async function runPage(search: string, files: Record<string, unknown>) {
  const attrs = new Map<string, string>([['model', '/models/demo.gguf']]);
  const el = { setAttribute: (k: string, v: string) => attrs.set(k, v) };
  const fetched: string[] = [];
  const fetch = (url: string) => {
    fetched.push(url);
    const body = files[url];
    return Promise.resolve({ ok: body !== undefined, json: () => Promise.resolve(body) });
  };
  runInNewContext(await script, {
    URLSearchParams,
    location: { search },
    document: { querySelector: () => el, documentElement: {} },
    fetch,
  });
  // Let the fetch chain settle.
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
  return { attrs: Object.fromEntries(attrs), fetched };
}

const descriptor = {
  id: 'qwen2.5-1.5b-instruct',
  file: 'qwen2.5-1.5b-instruct.gguf',
  sha256: 'ab'.repeat(32),
  bytes: 986_000_000,
  name: 'Qwen2.5-1.5B-Instruct',
  license: { id: 'apache-2.0', name: null, link: null },
};

describe('demo-config.js', () => {
  it("loads the registry's default model with its checksum, size, name and licence", async () => {
    const { attrs } = await runPage('', {
      '/models/registry.json': { default: descriptor.id, models: [] },
      [`/models/${descriptor.id}.json`]: descriptor,
    });
    expect(attrs).toEqual({
      model: '/models/qwen2.5-1.5b-instruct.gguf',
      sha256: descriptor.sha256,
      size: '986000000',
      'model-name': 'Qwen2.5-1.5B-Instruct',
      'model-license': 'apache-2.0',
    });
  });

  it('keeps the page as written without a registry, with demo as default, or with ?model=', async () => {
    expect((await runPage('', {})).attrs).toEqual({ model: '/models/demo.gguf' });
    expect((await runPage('', { '/models/registry.json': { default: 'demo', models: [] } })).attrs).toEqual({
      model: '/models/demo.gguf',
    });
    const explicit = await runPage('?model=/models/x.gguf', {
      '/models/registry.json': { default: descriptor.id, models: [] },
      [`/models/${descriptor.id}.json`]: descriptor,
    });
    expect(explicit.fetched).toEqual([]);
    expect(explicit.attrs).toEqual({ model: '/models/x.gguf' });
  });
});
