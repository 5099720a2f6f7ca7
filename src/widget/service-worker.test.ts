// Dure's service worker as the build emits it (vite.widget.config.ts fills in its file lists), run
// in a sandbox with an in-memory Cache API: what it keeps at install, which requests it answers
// (Dure's files only), how it answers them online and offline, how a new build replaces the old
// cache, and the same when a portal's own worker imports it. The browser side is
// e2e/widget-offline.spec.ts.
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { dureServiceWorker, type BundleFile } from '../../vite.widget.config.ts';

type Bundle = Record<string, BundleFile>;

const chunk = (fileName: string, code: string, more: Partial<BundleFile> = {}) => ({
  type: 'chunk' as const,
  fileName,
  code,
  imports: [],
  dynamicImports: [],
  ...more,
});
const asset = (fileName: string, source = fileName) => ({ type: 'asset' as const, fileName, source });

/** A build shaped like the app's: the widget's graph, another page's code, workers, wasm, a page. */
function bundle(version = '1'): Bundle {
  const files = [
    chunk('dure-chat.js', `v${version}; new URL(\`assets/wllama-3.wasm\`, import.meta.url)`, {
      isEntry: true,
      name: 'dure-chat',
      imports: ['assets/shared-1.js'],
      dynamicImports: ['assets/lazy-2.js'],
    }),
    chunk(
      'assets/shared-1.js',
      'new URL(`gpu-probe.worker-4.js`,import.meta.url);new URL(`inference.worker-5.js`,import.meta.url);' +
        'new URL(`training.worker-6.js`,import.meta.url)',
    ),
    chunk('assets/lazy-2.js', 'lazy'),
    chunk('assets/admin-7.js', 'admin', { isEntry: true, name: 'admin', imports: ['assets/shared-1.js'] }),
    asset('assets/gpu-probe.worker-4.js'),
    asset('assets/inference.worker-5.js'),
    asset('assets/training.worker-6.js'),
    asset('assets/wllama-3.wasm'),
    asset('assets/admin-8.css'),
    asset('index.html'),
    asset('admin.html'),
  ];
  return Object.fromEntries(files.map((f) => [f.fileName, f])) as Bundle;
}

function emitted(b: Bundle): string {
  let source = '';
  dureServiceWorker().generateBundle.handler.call(
    {
      emitFile: (f) => {
        expect(f.fileName).toBe('sw.js');
        source = f.source;
      },
    },
    {},
    b,
  );
  return source;
}

const list = (source: string, name: string) =>
  JSON.parse(new RegExp(`^const ${name} = (.*);$`, 'm').exec(source)![1]!) as string[];

class MemoryCache {
  readonly entries = new Map<string, Response>();
  private key = (r: Request | string) => (typeof r === 'string' ? r : r.url);
  async match(r: Request | string): Promise<Response | undefined> {
    return this.entries.get(this.key(r))?.clone();
  }
  async put(r: Request | string, res: Response): Promise<void> {
    this.entries.set(this.key(r), new Response(await res.arrayBuffer(), res));
  }
  async keys(): Promise<Request[]> {
    return [...this.entries.keys()].map((u) => new Request(u));
  }
}

class MemoryCaches {
  readonly stores = new Map<string, MemoryCache>();
  async open(name: string): Promise<MemoryCache> {
    if (!this.stores.has(name)) this.stores.set(name, new MemoryCache());
    return this.stores.get(name)!;
  }
  async keys(): Promise<string[]> {
    return [...this.stores.keys()];
  }
  async delete(name: string): Promise<boolean> {
    return this.stores.delete(name);
  }
}

const ORIGIN = 'https://portal.example.go.kr';

interface Worker {
  caches: MemoryCaches;
  network: Map<string, string>;
  online: { value: boolean };
  requested: string[];
  calls: string[];
  install(): Promise<void>;
  activate(): Promise<void>;
  /** The response, or null when the worker leaves the request alone. */
  fetch(url: string, init?: RequestInit): Promise<Response | null>;
}

/**
 * Runs the emitted worker. `scriptUrl` is the file's own URL (what browsers name in stack traces);
 * `location` is the registered worker's, the same unless a portal's worker imported it.
 */
function start(source: string, scriptUrl: string, location = scriptUrl, shared?: Worker): Worker {
  const listeners: Record<string, ((e: unknown) => void)[]> = {};
  const w: Worker = {
    caches: shared?.caches ?? new MemoryCaches(),
    network: shared?.network ?? new Map(),
    online: shared?.online ?? { value: true },
    requested: [],
    calls: [],
    async install() {
      const waits: Promise<unknown>[] = [];
      for (const l of listeners['install'] ?? []) l({ waitUntil: (p: Promise<unknown>) => waits.push(p) });
      await Promise.all(waits);
    },
    async activate() {
      const waits: Promise<unknown>[] = [];
      for (const l of listeners['activate'] ?? []) l({ waitUntil: (p: Promise<unknown>) => waits.push(p) });
      await Promise.all(waits);
    },
    async fetch(url, init) {
      let answer: Promise<Response> | null = null;
      const waits: Promise<unknown>[] = [];
      for (const l of listeners['fetch'] ?? [])
        l({
          request: new Request(url, init),
          respondWith: (p: Promise<Response>) => (answer = p),
          waitUntil: (p: Promise<unknown>) => waits.push(p),
        });
      const res = answer ? await answer : null;
      await Promise.all(waits);
      return res;
    },
  };
  const fakeFetch = async (input: Request | string, init?: RequestInit) => {
    const req = new Request(input, init);
    w.requested.push(req.url + (req.headers.has('range') ? ' (range)' : ''));
    if (!w.online.value) throw new TypeError('Failed to fetch');
    const body = w.network.get(req.url);
    if (body === undefined) return new Response('not found', { status: 404 });
    if (req.headers.has('range')) return new Response(body.slice(0, 4), { status: 206 });
    // Node's Response has no `type` of its own; a same-origin answer is 'basic'.
    const res = new Response(body, { status: 200 });
    Object.defineProperty(res, 'type', { value: 'basic' });
    return res;
  };
  const self = {
    location: new URL(location),
    addEventListener: (type: string, fn: (e: unknown) => void) => (listeners[type] ??= []).push(fn),
    skipWaiting: async () => void w.calls.push('skipWaiting'),
    clients: { claim: async () => void w.calls.push('claim') },
  };
  runInNewContext(
    source,
    { self, caches: w.caches, fetch: fakeFetch, URL, Request, Response, Set, Promise, JSON, Error, String },
    { filename: scriptUrl },
  );
  return w;
}

function site(w: Worker, folder: string, version = '1'): void {
  for (const f of Object.keys(bundle(version))) w.network.set(`${folder}${f}`, `${f} v${version}`);
  w.network.set(`${ORIGIN}/minwon/`, '<h1>portal</h1>');
  w.network.set(`${ORIGIN}/models/model.gguf`, 'GGUF');
}

describe("Dure's service worker", () => {
  const source = emitted(bundle());

  it('lists every file of the build as Dure’s, and keeps only the widget’s at install', () => {
    expect(list(source, 'FILES')).toEqual(
      Object.keys(bundle())
        .filter((f) => !f.endsWith('.html'))
        .sort(),
    );
    expect(list(source, 'INSTALL')).toEqual([
      'assets/gpu-probe.worker-4.js',
      'assets/inference.worker-5.js',
      'assets/lazy-2.js',
      'assets/shared-1.js',
      'dure-chat.js',
    ]);
    expect(source).toMatch(/^const BUILD = '[0-9a-f]{16}';$/m);
  });

  it('install keeps the widget’s files in its own cache; activate drops older builds’ caches only', async () => {
    const w = start(source, `${ORIGIN}/dure/sw.js`);
    site(w, `${ORIGIN}/dure/`);
    for (const old of ['dure-files-0123456789abcdef', 'dure-shell-v1', 'portal-offline-v1'])
      await w.caches.open(old);
    await w.install();
    await w.activate();
    const names = await w.caches.keys();
    const mine = names.find(
      (n) => /^dure-files-[0-9a-f]{16}$/.test(n) && n !== 'dure-files-0123456789abcdef',
    );
    expect(names.sort()).toEqual([mine, 'portal-offline-v1'].sort());
    expect([...w.caches.stores.get(mine!)!.entries.keys()].sort()).toEqual(
      list(source, 'INSTALL').map((f) => `${ORIGIN}/dure/${f}`),
    );
    // Registered itself (not imported): it takes over at once.
    expect(w.calls).toEqual(['skipWaiting', 'claim']);
  });

  it("answers Dure's files only: never the portal's pages, models, other origins or other methods", async () => {
    const w = start(source, `${ORIGIN}/dure/sw.js`);
    site(w, `${ORIGIN}/dure/`);
    await w.install();
    for (const url of [
      `${ORIGIN}/minwon/`,
      `${ORIGIN}/minwon/portal.css`,
      `${ORIGIN}/models/model.gguf`,
      `${ORIGIN}/dure/index.html`,
      `${ORIGIN}/dure/assets/not-in-this-build.js`,
      `${ORIGIN}/dure-chat.js`,
      `https://cdn.example.com/dure/dure-chat.js`,
    ])
      expect(await w.fetch(url), url).toBeNull();
    expect(await w.fetch(`${ORIGIN}/dure/dure-chat.js`, { method: 'POST' })).toBeNull();
    expect(await w.fetch(`${ORIGIN}/dure/dure-chat.js`)).not.toBeNull();
  });

  it('keeps the CPU wasm once used and answers it offline, a Range request with the whole file', async () => {
    const w = start(source, `${ORIGIN}/dure/sw.js`);
    site(w, `${ORIGIN}/dure/`);
    await w.install();
    const wasm = `${ORIGIN}/dure/assets/wllama-3.wasm`;
    // A Range request (the wasm check) is passed through and not kept.
    expect((await w.fetch(wasm, { headers: { range: 'bytes=0-7' } }))!.status).toBe(206);
    expect(await (await w.caches.keys()).map((n) => w.caches.stores.get(n)!.entries.has(wasm))).toEqual([
      false,
    ]);
    expect(await (await w.fetch(wasm))!.text()).toBe('assets/wllama-3.wasm v1');
    w.online.value = false;
    expect(await (await w.fetch(wasm))!.text()).toBe('assets/wllama-3.wasm v1');
    const ranged = (await w.fetch(wasm, { headers: { range: 'bytes=0-7' } }))!;
    expect([ranged.status, await ranged.text()]).toEqual([200, 'assets/wllama-3.wasm v1']);
  });

  it('hashed files come from the cache; dure-chat.js from the network while there is one', async () => {
    const w = start(source, `${ORIGIN}/dure/sw.js`);
    site(w, `${ORIGIN}/dure/`);
    await w.install();
    w.requested.length = 0;
    expect(await (await w.fetch(`${ORIGIN}/dure/assets/lazy-2.js`))!.text()).toBe('assets/lazy-2.js v1');
    expect(w.requested).toEqual([]);
    w.network.set(`${ORIGIN}/dure/dure-chat.js`, 'dure-chat.js, redeployed');
    expect(await (await w.fetch(`${ORIGIN}/dure/dure-chat.js`))!.text()).toBe('dure-chat.js, redeployed');
    w.online.value = false;
    expect(await (await w.fetch(`${ORIGIN}/dure/dure-chat.js`))!.text()).toBe('dure-chat.js, redeployed');
    await expect(w.fetch(`${ORIGIN}/dure/assets/wllama-3.wasm`)).rejects.toThrow('Failed to fetch');
  });

  it('a new build installs into a new cache and removes the previous one', async () => {
    const first = start(source, `${ORIGIN}/dure/sw.js`);
    site(first, `${ORIGIN}/dure/`);
    await first.install();
    await first.activate();
    const before = await first.caches.keys();
    const next = emitted(bundle('2'));
    expect(next).not.toBe(source);
    const second = start(next, `${ORIGIN}/dure/sw.js`, undefined, first);
    site(second, `${ORIGIN}/dure/`, '2');
    await second.install();
    await second.activate();
    const after = await second.caches.keys();
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
    const entry = await (await second.caches.open(after[0]!)).match(`${ORIGIN}/dure/dure-chat.js`);
    expect(await entry!.text()).toBe('dure-chat.js v2');
  });

  it("imported by a portal's worker: answers Dure's folder, not the portal's, and leaves its life cycle alone", async () => {
    // The portal's /minwon/sw.js ran importScripts('/dure/sw.js').
    const w = start(source, `${ORIGIN}/dure/sw.js`, `${ORIGIN}/minwon/sw.js`);
    site(w, `${ORIGIN}/dure/`);
    await w.install();
    await w.activate();
    expect(w.calls).toEqual([]);
    expect(await w.fetch(`${ORIGIN}/minwon/`)).toBeNull();
    expect(await w.fetch(`${ORIGIN}/minwon/dure-chat.js`)).toBeNull();
    w.online.value = false;
    expect(await (await w.fetch(`${ORIGIN}/dure/dure-chat.js`))!.text()).toBe('dure-chat.js v1');
  });
});
