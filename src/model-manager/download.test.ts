import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterServerUrl, downloadModel, type DownloadProgress } from './download.ts';
import { ModelDownloadError, ModelIntegrityError, ModelOriginError, ModelQuotaError } from './errors.ts';
import { MemoryModelStore } from './store.ts';

// A real HTTP server with Range support that can cut the connection after N bytes, as a flaky
// mobile network does.
const file = randomBytes(300_000);
const hash = createHash('sha256').update(file).digest('hex');
const requests: { path: string; range: string | undefined }[] = [];
let dropAfter: number[] = [];
/** Send this many bytes, then nothing more while keeping the connection open (a stalled line). */
let stallAfter: number[] = [];
let ignoreRange = false;
let server: Server;
let origin: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', range: req.headers.range });
    if (req.url !== '/model.gguf') return void res.writeHead(404).end();
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !ignoreRange) {
      start = Number(m[1]);
      if (start >= file.length)
        return void res.writeHead(416, { 'content-range': `bytes */${file.length}` }).end();
      res.writeHead(206, {
        'content-range': `bytes ${start}-${file.length - 1}/${file.length}`,
        'content-length': file.length - start,
      });
    } else res.writeHead(200, { 'content-length': file.length });
    const stall = stallAfter.shift();
    if (stall !== undefined) return void res.write(file.subarray(start, start + stall));
    const cut = dropAfter.shift();
    if (cut === undefined) return void res.end(file.subarray(start));
    // Send part of the body, then kill the socket mid-transfer.
    res.write(file.subarray(start, start + cut), () => setTimeout(() => req.socket.destroy(), 20));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const reset = () => {
  requests.length = 0;
  dropAfter = [];
  stallAfter = [];
  ignoreRange = false;
};

describe('downloadModel', () => {
  it('resumes with HTTP Range after the connection drops, and verifies SHA-256', async () => {
    reset();
    dropAfter = [100_000, 50_000];
    const progress: DownloadProgress[] = [];
    const store = new MemoryModelStore();
    const got = await downloadModel({
      url: `${origin}/model.gguf`,
      sha256: hash,
      store,
      allowedOrigins: [origin],
      writeChunkBytes: 16_384,
      onProgress: (p) => progress.push(p),
    });
    expect(got.sha256).toBe(hash);
    expect(Buffer.from(await got.blob.arrayBuffer()).equals(file)).toBe(true);
    // First request from 0, then resumed exactly where each drop left off.
    expect(requests.map((r) => r.range)).toEqual([undefined, 'bytes=100000-', 'bytes=150000-']);
    const last = progress.at(-1);
    expect(last).toMatchObject({ loadedBytes: file.length, totalBytes: file.length });
    expect(progress.some((p) => p.bytesPerSecond > 0 && p.etaSeconds !== null)).toBe(true);
    // Monotone progress: a resume never goes backwards.
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]!.loadedBytes).toBeGreaterThanOrEqual(progress[i - 1]!.loadedBytes);
    expect(await store.list()).toEqual([
      expect.objectContaining({ size: file.length, meta: expect.objectContaining({ complete: true }) }),
    ]);
  });

  it('continues an interrupted download in a later session (a page reload) and then reuses it offline', async () => {
    reset();
    const store = new MemoryModelStore();
    const ctl = new AbortController();
    await expect(
      downloadModel({
        url: `${origin}/model.gguf`,
        sha256: hash,
        store,
        allowedOrigins: [origin],
        writeChunkBytes: 1024,
        signal: ctl.signal,
        onProgress: (p) => p.loadedBytes > 60_000 && ctl.abort(),
      }),
    ).rejects.toThrow();
    const partial = (await store.list())[0]!;
    expect(partial.meta.complete).toBe(false);
    expect(partial.size).toBeGreaterThan(60_000);
    requests.length = 0;
    const seen: DownloadProgress[] = [];
    const got = await downloadModel({
      url: `${origin}/model.gguf`,
      sha256: hash,
      store,
      allowedOrigins: [origin],
      onProgress: (p) => seen.push(p),
    });
    expect(requests).toEqual([{ path: '/model.gguf', range: `bytes=${partial.size}-` }]);
    expect(seen[0]?.resumedFrom).toBe(partial.size);
    expect(Buffer.from(await got.blob.arrayBuffer()).equals(file)).toBe(true);
    requests.length = 0;
    const again = await downloadModel({
      url: `${origin}/model.gguf`,
      sha256: hash,
      store,
      allowedOrigins: [origin],
    });
    expect(again.fromCache).toBe(true);
    expect(requests).toEqual([]);
  });

  it('starts over when the server ignores Range instead of appending a second copy', async () => {
    reset();
    dropAfter = [70_000];
    ignoreRange = true;
    const got = await downloadModel({
      url: `${origin}/model.gguf`,
      sha256: hash,
      store: new MemoryModelStore(),
      allowedOrigins: [origin],
    });
    expect(got.blob.size).toBe(file.length);
    expect(got.sha256).toBe(hash);
  });

  it('rejects a wrong hash with a typed bilingual error and keeps nothing', async () => {
    reset();
    const store = new MemoryModelStore();
    const err = await downloadModel({
      url: `${origin}/model.gguf`,
      sha256: 'ab'.repeat(32),
      store,
      allowedOrigins: [origin],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelIntegrityError);
    expect((err as ModelIntegrityError).code).toBe('MODEL_INTEGRITY');
    expect((err as Error).message).toMatch(/손상/);
    expect((err as Error).message).toMatch(/corrupted/);
    expect(await store.list()).toEqual([]);
  });

  it('never contacts an origin that is not allowed', async () => {
    reset();
    await expect(
      downloadModel({
        url: `${origin}/model.gguf`,
        store: new MemoryModelStore(),
        allowedOrigins: ['https://portal.example.go.kr'],
      }),
    ).rejects.toBeInstanceOf(ModelOriginError);
    expect(requests).toEqual([]);
  });

  it('gives up with a typed error after the retry budget and reports HTTP errors', async () => {
    reset();
    dropAfter = [10, 10, 10];
    await expect(
      downloadModel({
        url: `${origin}/model.gguf`,
        store: new MemoryModelStore(),
        allowedOrigins: [origin],
        maxRetries: 2,
      }),
    ).rejects.toBeInstanceOf(ModelDownloadError);
    reset();
    const e = await downloadModel({
      url: `${origin}/missing.gguf`,
      store: new MemoryModelStore(),
      allowedOrigins: [origin],
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModelDownloadError);
    expect((e as Error).message).toContain('404');
  });

  it('drops a stalled connection after the stall timeout and resumes where it stopped', async () => {
    reset();
    stallAfter = [120_000];
    const got = await downloadModel({
      url: `${origin}/model.gguf`,
      sha256: hash,
      store: new MemoryModelStore(),
      allowedOrigins: [origin],
      stallTimeoutMs: 300,
    });
    expect(got.sha256).toBe(hash);
    expect(requests.map((r) => r.range)).toEqual([undefined, 'bytes=120000-']);
  });

  it('turns a full disk into a typed bilingual quota error and keeps what was stored', async () => {
    reset();
    // The browser's own failure when storage is full is a QuotaExceededError DOMException.
    class FullStore extends MemoryModelStore {
      override async entry(key: string) {
        const e = await super.entry(key);
        return {
          ...e,
          append: async (bytes: Uint8Array) => {
            if ((await e.size()) + bytes.byteLength > 100_000)
              throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
            await e.append(bytes);
          },
        };
      }
    }
    const store = new FullStore();
    const err = await downloadModel({
      url: `${origin}/model.gguf`,
      store,
      allowedOrigins: [origin],
      writeChunkBytes: 10_000,
    }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(ModelQuotaError);
    expect((err as ModelQuotaError).code).toBe('MODEL_QUOTA');
    expect((err as Error).message).toMatch(/저장 공간이 부족/);
    expect((err as Error).message).toMatch(/ran out of storage/);
    const [partial] = await store.list();
    expect(partial?.meta.complete).toBe(false);
    expect(partial?.size).toBeLessThanOrEqual(100_000);
  });
});

describe('adapterServerUrl', () => {
  it("trusts the adapter-server attribute's own origin (http or https), whatever allowed-origins says", () => {
    expect(adapterServerUrl('https://fl.example.go.kr/api/').href).toBe('https://fl.example.go.kr/api/');
    expect(adapterServerUrl('http://127.0.0.1:8787').origin).toBe('http://127.0.0.1:8787');
  });
  it('names the attribute when it is not an http(s) URL', () => {
    for (const bad of ['javascript:alert(1)', 'ftp://fl.example', 'not a url'])
      expect(() => adapterServerUrl(bad)).toThrow(/adapter-server/);
    expect(() => adapterServerUrl('data:,x')).toThrow(ModelOriginError);
  });
});
