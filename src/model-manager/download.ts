/**
 * Resumable, verified model download (models are large and citizens' connections drop). Bytes go
 * straight into the store as they arrive and into an incremental SHA-256 (WebCrypto's `digest` is
 * one-shot and would need the whole file in memory). After a dropped connection or a page reload
 * the download continues from the stored length with an HTTP Range request; the stored prefix is
 * re-hashed once on resume.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  ModelDownloadError,
  ModelIntegrityError,
  ModelOriginError,
  ModelQuotaError,
  messages,
} from './errors.ts';
import type { ModelEntry, ModelStore, StoredModelMeta } from './store.ts';

export interface DownloadProgress {
  loadedBytes: number;
  /** 0 while the server has not said. */
  totalBytes: number;
  bytesPerSecond: number;
  /** Seconds left at the current speed; null while unknown. */
  etaSeconds: number | null;
  /** Bytes that were already stored when this download started (a resume). */
  resumedFrom: number;
}

export interface DownloadOptions {
  url: string;
  /** Lower-case hex SHA-256 of the whole file; verified before the model is used. */
  sha256?: string;
  store: ModelStore;
  /** Origins the manager may contact. Default: the page's own origin only. */
  allowedOrigins?: readonly string[];
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Reconnects after a dropped connection before giving up. */
  maxRetries?: number;
  /** Bytes buffered before each store write (fewer, larger OPFS writes). */
  writeChunkBytes?: number;
  /**
   * A request that brings no byte for this long is dropped and retried from where it stopped
   * (default 30 s), so a stalled connection ends in a retry or an error, never a silent wait.
   */
  stallTimeoutMs?: number;
  fetch?: typeof fetch;
}

export interface DownloadedModel {
  key: string;
  blob: Blob;
  sha256: string;
  /** True when the model came from storage without contacting the network. */
  fromCache: boolean;
}

/** Stable store key for a model: its hash when known, else a digest of its URL. */
export function modelKey(url: string, sha?: string): string {
  if (sha) return `sha256-${sha.toLowerCase().slice(0, 64)}`;
  return `url-${bytesToHex(sha256(new TextEncoder().encode(url))).slice(0, 40)}`;
}

/** @throws {ModelOriginError} when `url` is not on an allowed origin. */
export function checkOrigin(url: string, allowed: readonly string[]): URL {
  const base = typeof location !== 'undefined' ? location.href : undefined;
  const u = new URL(url, base);
  const origins = allowed.map((o) => new URL(o).origin);
  if (!origins.includes(u.origin)) throw new ModelOriginError(messages.origin(u.href));
  return u;
}

/**
 * The federated server a widget polls for adapters (its `adapter-server` attribute). The portal
 * named it, so its origin is trusted for adapter downloads — never for models, which stay limited
 * to the page's origin and `allowed-origins`.
 * @throws {ModelOriginError} naming the attribute when it is not an http(s) URL.
 */
export function adapterServerUrl(attr: string): URL {
  const base = typeof location !== 'undefined' ? location.href : undefined;
  let u: URL | null = null;
  try {
    u = new URL(attr, base);
  } catch {
    // Reported below with the attribute's name.
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:'))
    throw new ModelOriginError(
      `adapter-server 속성의 주소가 올바르지 않습니다: ${attr} (연합학습 서버의 http(s) 주소를 넣어 주세요). / ` +
        `The adapter-server attribute is not an http(s) URL: ${attr} (set it to the federated server's address).`,
    );
  return u;
}

function isQuota(e: unknown): boolean {
  return e instanceof DOMException && (e.name === 'QuotaExceededError' || e.code === 22);
}

async function hashStored(entry: ModelEntry): Promise<ReturnType<typeof sha256.create>> {
  const h = sha256.create();
  const blob = await entry.blob();
  const step = 8 << 20;
  for (let at = 0; at < blob.size; at += step)
    h.update(new Uint8Array(await blob.slice(at, at + step).arrayBuffer()));
  return h;
}

async function ensureQuota(needed: number): Promise<void> {
  if (typeof navigator === 'undefined' || !navigator.storage?.estimate || needed <= 0) return;
  const { quota, usage } = await navigator.storage.estimate();
  if (quota === undefined || usage === undefined) return;
  if (quota - usage < needed) throw new ModelQuotaError(messages.quota(needed, quota - usage));
}

/**
 * Downloads (or resumes, or reuses) a model into `store`.
 * @throws {ModelOriginError} URL outside the allowed origins (nothing is contacted).
 * @throws {ModelIntegrityError} hash mismatch (the stored bytes are deleted).
 * @throws {ModelQuotaError} not enough storage.
 * @throws {ModelDownloadError} HTTP error, or the connection kept dropping.
 * @throws {DOMException} `AbortError` when `signal` aborts (stored bytes are kept for resuming).
 */
export async function downloadModel(opts: DownloadOptions): Promise<DownloadedModel> {
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const allowed = opts.allowedOrigins ?? (typeof location !== 'undefined' ? [location.origin] : []);
  const url = checkOrigin(opts.url, allowed).href;
  const expected = opts.sha256?.toLowerCase();
  const key = modelKey(url, expected);
  const entry = await opts.store.entry(key);
  const maxRetries = opts.maxRetries ?? 5;
  // 1 MiB parts: little lost on a reload, few enough files for a 1 GB model.
  const chunkBytes = opts.writeChunkBytes ?? 1 << 20;

  const prev = await entry.readMeta();
  if (prev?.complete && prev.url === url) {
    const blob = await entry.blob();
    if (blob.size === prev.totalBytes || prev.totalBytes === 0)
      return { key, blob, sha256: prev.sha256 ?? '', fromCache: true };
  }

  let meta: StoredModelMeta =
    prev && prev.url === url ? prev : { key, url, totalBytes: 0, complete: false, updatedAt: Date.now() };
  if (!prev || prev.url !== url) await entry.truncate();
  if (expected) meta.sha256 = expected;

  let stored = await entry.size();
  const resumedFrom = stored;
  let hasher = stored > 0 ? await hashStored(entry) : sha256.create();
  const started = performance.now();
  let window: { t: number; bytes: number }[] = [{ t: started, bytes: stored }];
  let failures = 0;

  const report = (loaded: number) => {
    const now = performance.now();
    window.push({ t: now, bytes: loaded });
    // Speed over the last ~3 s, so a stall shows quickly and old bursts do not linger.
    while (window.length > 2 && now - (window[0]?.t ?? now) > 3000) window.shift();
    const first = window[0] ?? { t: now, bytes: loaded };
    const secs = (now - first.t) / 1000;
    const bps = secs > 0 ? (loaded - first.bytes) / secs : 0;
    const total = meta.totalBytes;
    opts.onProgress?.({
      loadedBytes: loaded,
      totalBytes: total,
      bytesPerSecond: bps,
      etaSeconds: total > 0 && bps > 0 ? (total - loaded) / bps : null,
      resumedFrom,
    });
  };

  const write = async (bytes: Uint8Array) => {
    try {
      await entry.append(bytes);
    } catch (e) {
      if (isQuota(e)) throw new ModelQuotaError(messages.quotaWrite());
      throw e;
    }
  };

  const stallMs = opts.stallTimeoutMs ?? 30_000;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (meta.totalBytes > 0 && stored >= meta.totalBytes) break;
    const headers: Record<string, string> = {};
    if (stored > 0) headers['Range'] = `bytes=${stored}-`;
    // This request's own signal: the caller's abort, or no byte for `stallMs` (then a retry).
    const attempt = new AbortController();
    const onAbort = () => attempt.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let stallTimer: ReturnType<typeof setTimeout> | undefined;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(
        () => attempt.abort(new DOMException('no data arrived', 'TimeoutError')),
        stallMs,
      );
    };
    const disarm = () => {
      clearTimeout(stallTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    armStall();
    try {
      let res: Response;
      try {
        res = await doFetch(url, {
          headers,
          signal: attempt.signal,
          cache: 'no-store',
          credentials: 'same-origin',
        });
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        if (++failures > maxRetries) throw new ModelDownloadError(messages.network(failures));
        await sleep(Math.min(200 * 2 ** failures, 5000), opts.signal);
        continue;
      }
      if (res.status === 416 && stored > 0) {
        // Everything is already here (the server says the range starts past the end).
        if (meta.totalBytes === 0) meta.totalBytes = stored;
        break;
      }
      if (!res.ok) throw new ModelDownloadError(messages.http(res.status));
      if (res.status === 200 && stored > 0) {
        // The server ignored Range: start over rather than corrupt the file.
        await entry.truncate();
        stored = 0;
        hasher = sha256.create();
        window = [{ t: performance.now(), bytes: 0 }];
      }
      const total = totalFrom(res, stored);
      if (total > 0 && meta.totalBytes === 0) {
        meta.totalBytes = total;
        await ensureQuota(total - stored);
      }
      meta.updatedAt = Date.now();
      await entry.writeMeta(meta);
      if (!res.body) throw new ModelDownloadError(messages.http(res.status));

      const reader = res.body.getReader();
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes === 0) return;
        const buf = new Uint8Array(pendingBytes);
        let o = 0;
        for (const p of pending) {
          buf.set(p, o);
          o += p.byteLength;
        }
        pending = [];
        pendingBytes = 0;
        await write(buf);
      };
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          armStall();
          hasher.update(value);
          pending.push(value);
          pendingBytes += value.byteLength;
          stored += value.byteLength;
          if (pendingBytes >= chunkBytes) await flush();
          report(stored);
        }
        await flush();
        if (meta.totalBytes === 0) meta.totalBytes = stored;
        if (stored < meta.totalBytes) throw new TypeError('connection closed early');
        break;
      } catch (e) {
        // Keep what arrived: it is hashed already and the next request resumes after it.
        await flush().catch(() => undefined);
        if (e instanceof ModelQuotaError || opts.signal?.aborted)
          throw opts.signal?.aborted ? opts.signal.reason : e;
        if (++failures > maxRetries) throw new ModelDownloadError(messages.network(failures));
        await sleep(Math.min(200 * 2 ** failures, 5000), opts.signal);
      } finally {
        reader.releaseLock();
      }
    } finally {
      disarm();
    }
  }

  const actual = bytesToHex(hasher.digest());
  if (expected && actual !== expected) {
    await opts.store.delete(key);
    throw new ModelIntegrityError(messages.integrity(expected, actual));
  }
  meta = { ...meta, sha256: actual, complete: true, updatedAt: Date.now() };
  await entry.writeMeta(meta);
  report(stored);
  return { key, blob: await entry.blob(), sha256: actual, fromCache: false };
}

function totalFrom(res: Response, offset: number): number {
  const range = res.headers.get('content-range');
  const m = range ? /\/(\d+)\s*$/.exec(range) : null;
  if (m?.[1]) return Number(m[1]);
  // A compressed body's length is not the file's (the browser hands over decoded bytes).
  const encoding = res.headers.get('content-encoding');
  if (encoding && encoding !== 'identity') return 0;
  const len = Number(res.headers.get('content-length') ?? 0);
  return len > 0 ? (res.status === 206 ? offset + len : len) : 0;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}
