/**
 * Platform-neutral byte sources for the GGUF reader: memory, Blob (a browser `File`, or an OPFS
 * file from `FileSystemFileHandle.getFile()`) and HTTP Range (a URL). The Node file source lives in src/node/file-source.ts.
 */
import { GgufInvalidError, GgufReadError, GgufTruncatedError } from './errors.ts';
import type { ByteSource } from './types.ts';
import { ModelChangedError, ModelDownloadError, ModelRangeUnsupportedError } from '../../protocol/errors.ts';

/**
 * Checks that `[offset, offset + length)` is a valid range of a source of `size` bytes.
 * @throws {GgufInvalidError} for a negative or non-integer offset or length.
 * @throws {GgufTruncatedError} when the range ends past `size`.
 */
export function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new GgufInvalidError(`invalid byte range: offset ${offset}, length ${length}`);
  }
  if (offset + length > size) {
    throw new GgufTruncatedError(
      `read of ${length} bytes at offset ${offset} runs past the end of the ${size}-byte file`,
    );
  }
}

/** Bytes already in memory. `read` returns views into them, never copies. */
export class MemorySource implements ByteSource {
  readonly size: number;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array | ArrayBuffer) {
    // A plain Uint8Array view even for a Node Buffer, whose slice() is a view, not a copy.
    this.bytes =
      bytes instanceof Uint8Array
        ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        : new Uint8Array(bytes);
    this.size = this.bytes.byteLength;
  }

  /** @throws {GgufTruncatedError} when the range is past the end. */
  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      checkRange(this.size, offset, length);
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve(this.bytes.subarray(offset, offset + length));
  }
}

/**
 * A Blob, File or OPFS file, read by range with `blob.slice(...).arrayBuffer()` so a multi-GB model
 * is never loaded whole.
 */
export class BlobSource implements ByteSource {
  readonly size: number;

  constructor(private readonly blob: Blob) {
    this.size = blob.size;
  }

  /**
   * @throws {GgufTruncatedError} when the range is past the end (or the blob shrank).
   * @throws {GgufReadError} when the browser cannot read the file (e.g. it changed on disk).
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.size, offset, length);
    let buf: ArrayBuffer;
    try {
      buf = await this.blob.slice(offset, offset + length).arrayBuffer();
    } catch (e) {
      throw new GgufReadError(`cannot read ${length} bytes at offset ${offset}: ${String(e)}`, { cause: e });
    }
    if (buf.byteLength !== length) {
      throw new GgufTruncatedError(`blob returned ${buf.byteLength} of ${length} bytes at offset ${offset}`);
    }
    return new Uint8Array(buf);
  }

  /**
   * Streams the range into `target` chunk by chunk: the small chunks are young garbage, where one
   * `arrayBuffer()` per slice would pile up slice-sized garbage until the next full collection.
   * Same errors as `read`.
   */
  async readInto(offset: number, target: Uint8Array): Promise<void> {
    const length = target.byteLength;
    checkRange(this.size, offset, length);
    let at = 0;
    try {
      const reader = this.blob
        .slice(offset, offset + length)
        .stream()
        .getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (at + value.byteLength > length) {
          throw new GgufReadError(`blob returned more than the ${length} bytes asked at offset ${offset}`);
        }
        target.set(value, at);
        at += value.byteLength;
      }
    } catch (e) {
      throw new GgufReadError(`cannot read ${length} bytes at offset ${offset}: ${String(e)}`, { cause: e });
    }
    if (at !== length) {
      throw new GgufTruncatedError(`blob returned ${at} of ${length} bytes at offset ${offset}`);
    }
  }
}

/** Options of {@link RangeSource.open}. */
export interface RangeSourceOptions {
  /** Largest byte range one request asks for (default 8 MiB): bounds what a read holds at once. */
  chunkBytes?: number;
  /** Defaults to the global fetch; tests and workers may pass their own. */
  fetch?: typeof fetch;
}

/**
 * A model on an HTTP server, read by `Range` requests of at most `chunkBytes`, so a URL model is
 * never held whole in memory. The first request checks that the server honours ranges (a 200 with
 * the whole file is refused with a typed error, not silently downloaded) and pins the length and
 * ETag; every later response must carry the same, so a file replaced mid-load is detected.
 */
export class RangeSource implements ByteSource {
  private constructor(
    readonly url: string,
    readonly size: number,
    private readonly etag: string | undefined,
    private readonly chunkBytes: number,
    private readonly fetchFn: typeof fetch,
  ) {}

  /**
   * @throws {ModelDownloadError} when the server answers with an error or cannot be reached.
   * @throws {ModelRangeUnsupportedError} when it ignores the Range header.
   */
  static async open(url: string, opts: RangeSourceOptions = {}): Promise<RangeSource> {
    const fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    return RangeSource.#fromProbe(url, opts, fetchFn, await request(fetchFn, url, 0, 0, undefined));
  }

  /**
   * A model URL as a byte source: read by Range when the server honours it (memory bounded by the
   * chunk), else — a server or a page route that ignores Range — the whole file the probe already
   * receives, as before Range loading existed, rather than refused.
   * @throws {ModelDownloadError} when the server answers with an error or cannot be reached.
   */
  static async openOrWhole(url: string, opts: RangeSourceOptions = {}): Promise<ByteSource> {
    const fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    const res = await request(fetchFn, url, 0, 0, undefined, { acceptWhole: true });
    if (res.status === 200) return new MemorySource(new Uint8Array(await res.arrayBuffer()));
    return RangeSource.#fromProbe(url, opts, fetchFn, res);
  }

  static async #fromProbe(
    url: string,
    opts: RangeSourceOptions,
    fetchFn: typeof fetch,
    res: Response,
  ): Promise<RangeSource> {
    const etag = res.headers.get('etag') ?? undefined;
    const total = totalOf(url, res);
    await res.body?.cancel();
    return new RangeSource(url, total, etag, Math.max(1, opts.chunkBytes ?? 8 * 1024 * 1024), fetchFn);
  }

  /** @throws {GgufTruncatedError} @throws {ModelChangedError} @throws {ModelDownloadError} */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.readInto(offset, out);
    return out;
  }

  /** @throws {GgufTruncatedError} @throws {ModelChangedError} @throws {ModelDownloadError} */
  async readInto(offset: number, target: Uint8Array): Promise<void> {
    checkRange(this.size, offset, target.byteLength);
    for (let done = 0; done < target.byteLength;) {
      const n = Math.min(this.chunkBytes, target.byteLength - done);
      await this.#fetchRange(offset + done, target.subarray(done, done + n));
      done += n;
    }
  }

  async #fetchRange(offset: number, into: Uint8Array): Promise<void> {
    const res = await request(this.fetchFn, this.url, offset, offset + into.byteLength - 1, this.etag);
    const etag = res.headers.get('etag') ?? undefined;
    if (etag !== this.etag || totalOf(this.url, res) !== this.size) {
      await res.body?.cancel();
      throw new ModelChangedError(
        `${this.url} changed while loading (ETag ${this.etag ?? 'none'} → ${etag ?? 'none'}, ` +
          `length ${this.size} → ${res.headers.get('content-range') ?? '?'})`,
      );
    }
    let at = 0;
    const body = res.body;
    if (!body) throw new ModelDownloadError(`${this.url} sent no body for a range request`);
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (at + value.byteLength > into.byteLength) {
          throw new ModelDownloadError(`${this.url} sent more bytes than the range asked for`);
        }
        into.set(value, at);
        at += value.byteLength;
      }
    } catch (e) {
      if (e instanceof ModelDownloadError) throw e;
      throw new ModelDownloadError(`reading ${this.url} failed: ${String(e)}`, { cause: e });
    } finally {
      reader.releaseLock();
    }
    if (at !== into.byteLength) {
      throw new GgufTruncatedError(`${this.url} sent ${at} of ${into.byteLength} bytes at offset ${offset}`);
    }
  }
}

/** One Range GET; a strong ETag in `If-Match` makes a server that knows the file changed answer 412. */
async function request(
  fetchFn: typeof fetch,
  url: string,
  first: number,
  last: number,
  etag: string | undefined,
  opts: { acceptWhole?: boolean } = {},
): Promise<Response> {
  const headers: Record<string, string> = { Range: `bytes=${first}-${last}` };
  // If-Match compares strongly, so a weak ETag (W/"…", common on static servers) would always
  // fail; those are still compared on every response below.
  if (etag && !etag.startsWith('W/')) headers['If-Match'] = etag;
  let res: Response;
  try {
    res = await fetchFn(url, { headers });
  } catch (e) {
    throw new ModelDownloadError(`fetching ${url} failed: ${String(e)}`, { cause: e });
  }
  if (res.status === 412) {
    await res.body?.cancel();
    throw new ModelChangedError(`${url} changed while loading (the server no longer matches ETag ${etag})`);
  }
  if (res.status === 200 && opts.acceptWhole) return res;
  if (res.status === 200) {
    await res.body?.cancel();
    throw new ModelRangeUnsupportedError(
      `${url} answered a Range request with the whole file (HTTP 200); serve it with Range support (206)`,
    );
  }
  if (res.status !== 206) {
    await res.body?.cancel();
    throw new ModelDownloadError(`fetching ${url} failed: HTTP ${res.status}`);
  }
  return res;
}

/** The file length from `Content-Range: bytes a-b/TOTAL`. @throws {ModelRangeUnsupportedError} */
function totalOf(url: string, res: Response): number {
  const m = /^bytes \d+-\d+\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
  const total = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(total)) {
    throw new ModelRangeUnsupportedError(`${url} sent no usable Content-Range with its 206 answer`);
  }
  return total;
}
