/** kb.json for the widget and SDK: verified, stored, and used from storage when offline. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeKnowledgeBase, serializeKnowledgeBase } from '../knowledge/kb-file.ts';
import { loadKnowledgeBase, resolveCitationUrl } from './kb-loader.ts';

const kb = makeKnowledgeBase([
  {
    id: 'a.md#0',
    source: 'a.md',
    title: '여권',
    section: '수수료',
    headings: ['여권'],
    text: '5만 원',
    url: '/kb/a.md',
  },
]);
const body = serializeKnowledgeBase(kb);

/** A Cache API stand-in: one store of URL → bytes. */
function fakeCaches() {
  const store = new Map<string, Response>();
  return {
    store,
    open: () =>
      Promise.resolve({
        put: (url: string, res: Response) => (store.set(String(url), res), Promise.resolve()),
        match: (url: string) => Promise.resolve(store.get(String(url))?.clone()),
      }),
  };
}

describe('loadKnowledgeBase', () => {
  let caches: ReturnType<typeof fakeCaches>;
  beforeEach(() => {
    caches = fakeCaches();
    vi.stubGlobal('location', { origin: 'https://portal.example', href: 'https://portal.example/demo/' });
    vi.stubGlobal('caches', caches);
  });
  afterEach(() => vi.unstubAllGlobals());

  it('downloads, verifies against a pinned hash, stores, and falls back to the stored copy offline', async () => {
    vi.stubGlobal('fetch', () => Promise.resolve(new Response(body)));
    const online = await loadKnowledgeBase('/demo/kb.json', { sha256: kb.sha256 });
    expect(online).toMatchObject({ url: 'https://portal.example/demo/kb.json', fromCache: false });
    expect(online.kb.passages).toHaveLength(1);
    expect(caches.store.has('https://portal.example/demo/kb.json')).toBe(true);

    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('Failed to fetch')));
    const offline = await loadKnowledgeBase('/demo/kb.json', { sha256: kb.sha256 });
    expect(offline.fromCache).toBe(true);
    expect(offline.kb.sha256).toBe(kb.sha256);
  });

  it('refuses a file that is not the pinned one, another origin, and a failed download with nothing stored', async () => {
    vi.stubGlobal('fetch', () => Promise.resolve(new Response(body)));
    await expect(loadKnowledgeBase('/demo/kb.json', { sha256: 'ab'.repeat(32) })).rejects.toMatchObject({
      code: 'KB_INTEGRITY',
    });
    expect(caches.store.size).toBe(0);
    await expect(loadKnowledgeBase('https://elsewhere.example/kb.json')).rejects.toMatchObject({
      code: 'MODEL_ORIGIN',
    });
    vi.stubGlobal('fetch', () => Promise.resolve(new Response('gone', { status: 404 })));
    await expect(loadKnowledgeBase('/demo/kb.json')).rejects.toMatchObject({ code: 'KB_DOWNLOAD' });
  });

  it('resolves relative citation URLs against kb.json and keeps other schemes as given', () => {
    expect(resolveCitationUrl('/kb/a.md#수수료', 'https://portal.example/demo/kb.json')).toBe(
      'https://portal.example/kb/a.md#%EC%88%98%EC%88%98%EB%A3%8C',
    );
    expect(resolveCitationUrl('javascript:alert(1)', 'https://portal.example/kb.json')).toBe(
      'javascript:alert(1)',
    );
  });
});
