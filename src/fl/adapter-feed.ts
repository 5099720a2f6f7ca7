/**
 * Global adapters from the federated server as the engine and trainer take them: safetensors bytes
 * → `LoraTensors` plus a PEFT `adapter_config.json`-shaped config, read from the metadata the
 * server writes into every adapter file (`ADAPTER_META`), decoded with the shared adapter codec
 * (src/protocol/adapter-codec.ts).
 *
 * `fetchLatestAdapter` is for the citizen widget: tasks that publish adapters serve them without a
 * signature (`GET /v1/public/tasks/:taskId/adapters/latest`, the `stable` channel: what an admin
 * approved, never an unreviewed aggregate; or `/adapters/N` for a widget pinned to version N), so
 * a widget can hot-load each newly released global adapter. A poller passes the file it holds: the request is then conditional
 * (`If-None-Match`) and an unchanged adapter costs a bodiless 304 instead of a download. The file's
 * SHA-256 is computed on every download and checked against the server's header when the header is
 * readable (the server exposes it to cross-origin pages; a proxy might not).
 */
import {
  adapterProblem,
  ADAPTER_META,
  decodeAdapter,
  peftConfigJson,
  type LoraTensors,
  type PeftConfigJson,
} from '../protocol/adapter-codec.ts';
import { InvalidRequestError } from '../protocol/errors.ts';
import { sha256Hex } from '../protocol/signing.ts';
import { AdapterIntegrityError } from './errors.ts';
import { requestWithRetry, type RetryOptions } from './retry.ts';

/** PEFT's adapter_config.json fields for this adapter. */
export type PeftAdapterConfig = PeftConfigJson;

export interface GlobalAdapter {
  /** Registry version (`dure.version`), or null when the file does not say. */
  version: number | null;
  /** Lower-case hex SHA-256 of `bytes`. */
  sha256: string;
  bytes: Uint8Array;
  config: PeftAdapterConfig;
  lora: LoraTensors;
  /** Tensor shapes by PEFT name, in file order. */
  shapes: Map<string, number[]>;
}

/** Largest adapter accepted by default: 256 MiB, the server's own task bound. */
export const MAX_ADAPTER_BYTES = 256 * 1024 * 1024;

/** A codec error as the feed reports it; any other error unchanged. */
function asIntegrityError(err: unknown): unknown {
  const p = adapterProblem(err);
  if (!p) return err;
  const cause = { cause: err };
  switch (p.kind) {
    case 'safetensors':
      return new AdapterIntegrityError('the adapter is not a valid safetensors file', {
        cause: (err as Error).cause,
      });
    case 'name':
    case 'untargeted':
      return new AdapterIntegrityError(`unexpected tensor ${p.tensor} in the adapter`, cause);
    case 'rank':
      return new AdapterIntegrityError(
        `tensor ${p.tensor} has shape [${p.shape}], not rank ${p.rank}`,
        cause,
      );
    case 'empty':
      return new AdapterIntegrityError('the adapter has no tensors', cause);
    default:
      return new AdapterIntegrityError((err as Error).message, cause);
  }
}

/**
 * Parses a global adapter file (with the adapter codec, config from its `ADAPTER_META` metadata)
 * and checks that its tensors agree with its stated configuration.
 * @throws {AdapterIntegrityError} for malformed safetensors, missing or inconsistent LoRA metadata,
 * tensors that are not PEFT LoRA names, or shapes that disagree with the rank.
 */
export async function parseGlobalAdapter(bytes: Uint8Array): Promise<GlobalAdapter> {
  let decoded;
  try {
    decoded = decodeAdapter(bytes);
  } catch (err) {
    throw asIntegrityError(err);
  }
  const { lora, shapes, metadata } = decoded;
  const version = metadata[ADAPTER_META.version] !== undefined ? Number(metadata[ADAPTER_META.version]) : NaN;
  return {
    version: Number.isSafeInteger(version) ? version : null,
    sha256: await sha256Hex(bytes),
    bytes,
    config: peftConfigJson(lora),
    lora,
    shapes,
  };
}

/**
 * Reads a response body up to `maxBytes`.
 * @throws {AdapterIntegrityError} when the body is larger.
 */
export async function readBounded(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new AdapterIntegrityError(`the adapter is ${declared} bytes, more than the ${maxBytes}-byte bound`);
  }
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new AdapterIntegrityError(`the adapter exceeds the ${maxBytes}-byte bound`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export interface FeedOptions {
  /**
   * A pinned registry version (the widget's `adapter-version`): served only once an admin
   * published it, and never changes. Without it, the task's `stable` channel: the version an admin
   * approved last (or rolled back to), never an unapproved candidate.
   */
  pin?: number | undefined;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  retry?: RetryOptions;
  maxBytes?: number;
}

/** The adapter file a caller already holds. */
export interface KnownAdapter {
  /** Lower-case hex SHA-256 of the file. */
  sha256: string;
  /** The ETag the server sent with it, when it was readable; otherwise derived from `sha256`. */
  etag?: string | null;
}

export interface ConditionalFeedOptions extends FeedOptions {
  /** The file held (null: none yet, download unconditionally). */
  known: KnownAdapter | null;
}

/** A downloaded adapter with the ETag it came with (null when the response did not show one). */
export interface FeedAdapter extends GlobalAdapter {
  etag: string | null;
}

/** The server's 304: the file held is still the latest. Nothing was downloaded or parsed. */
export interface AdapterUnchanged {
  unchanged: true;
  /** The held file's SHA-256 (the server's header agreed when it was readable). */
  sha256: string;
  etag: string;
  /** Registry version from the server's header, or null when unreadable. */
  version: number | null;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** An entity tag (RFC 9110 §8.8.3), bounded: anything else from the server is not echoed back. */
const ENTITY_TAG = /^(?:W\/)?"[\x21\x23-\x7e]{0,200}"$/;

/**
 * The `If-None-Match` value for a held file: its ETag when well-formed, else the server's
 * convention for adapters (the quoted SHA-256, federated-server/src/app.ts `adapterETag`).
 * @throws {AdapterIntegrityError} when `sha256` is not 64 lower-case hex digits.
 */
export function ifNoneMatchFor(known: KnownAdapter): string {
  if (!SHA256_HEX.test(known.sha256))
    throw new AdapterIntegrityError(
      `the held adapter's SHA-256 "${known.sha256.slice(0, 80)}" is not 64 hex digits`,
    );
  return known.etag && ENTITY_TAG.test(known.etag) ? known.etag : `"${known.sha256}"`;
}

const headerVersion = (res: Response): number | null => {
  const v = Number(res.headers.get('x-dure-adapter-version') ?? NaN);
  return Number.isSafeInteger(v) && v >= 0 ? v : null;
};

/**
 * The released global adapter of a task that publishes its adapters (no signature needed): the
 * `stable` channel, or `opts.pin`. With
 * `known`, the request is conditional and an unchanged adapter comes back as `AdapterUnchanged`
 * without a download; every file that is downloaded is hashed and checked.
 * @throws {ServerRefusedError} NOT_FOUND when the task does not exist or does not publish adapters,
 * or the pinned version was never published.
 * @throws {InvalidRequestError} when `pin` is not a whole number ≥ 0.
 * @throws {NetworkError} when the server stays unreachable.
 * @throws {AdapterIntegrityError} when the bytes do not match the server's SHA-256 header, exceed
 * `maxBytes`, or are not a well-formed adapter; when a 304 announces a SHA-256 other than the held
 * one; when `known.sha256` is malformed.
 */
export function fetchLatestAdapter(
  serverUrl: string,
  taskId: string,
  opts: ConditionalFeedOptions,
): Promise<FeedAdapter | AdapterUnchanged>;
export function fetchLatestAdapter(
  serverUrl: string,
  taskId: string,
  opts?: FeedOptions,
): Promise<FeedAdapter>;
export async function fetchLatestAdapter(
  serverUrl: string,
  taskId: string,
  opts: FeedOptions & { known?: KnownAdapter | null } = {},
): Promise<FeedAdapter | AdapterUnchanged> {
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const pin = opts.pin;
  if (pin !== undefined && !(Number.isSafeInteger(pin) && pin >= 0))
    throw new InvalidRequestError(`adapter version ${String(pin).slice(0, 40)} is not a whole number ≥ 0`);
  const which = pin === undefined ? 'latest' : String(pin);
  const url = `${serverUrl.replace(/\/+$/, '')}/v1/public/tasks/${encodeURIComponent(taskId)}/adapters/${which}`;
  const known = opts.known ?? null;
  const ifNoneMatch = known ? ifNoneMatchFor(known) : null;
  // A manual If-None-Match with `no-store` keeps the browser's cache out of it: a 304 reaches us
  // as a 304 (not as the cached body replayed), so an unchanged poll reads no body at all.
  const init: RequestInit = {
    ...(opts.signal ? { signal: opts.signal } : {}),
    cache: 'no-store',
    ...(ifNoneMatch ? { headers: { 'if-none-match': ifNoneMatch } } : {}),
  };
  // requestWithRetry passes only 2xx on and calls other 4xx/3xx refusals; the 304 we asked for is
  // set aside here and a bodiless placeholder carries the loop to its end.
  const kept: { notModified?: Response } = {};
  const res = await requestWithRetry(
    'downloading the latest adapter',
    async () => {
      const r = await doFetch(url, init);
      if (r.status !== 304 || !ifNoneMatch) return r;
      kept.notModified = r;
      return new Response(null, { status: 204 });
    },
    opts.retry,
    opts.signal,
  );
  if (kept.notModified && known && ifNoneMatch) {
    const r = kept.notModified;
    const announced = r.headers.get('x-dure-adapter-sha256');
    if (announced !== null && announced !== known.sha256) {
      throw new AdapterIntegrityError(
        `the server answered "not modified" but announces SHA-256 ${announced}, not the held ${known.sha256}`,
      );
    }
    return {
      unchanged: true,
      sha256: known.sha256,
      etag: r.headers.get('etag') ?? ifNoneMatch,
      version: headerVersion(r),
    };
  }
  const bytes = await readBounded(res, opts.maxBytes ?? MAX_ADAPTER_BYTES);
  const adapter = await parseGlobalAdapter(bytes);
  const announced = res.headers.get('x-dure-adapter-sha256');
  if (announced !== null && announced !== adapter.sha256) {
    throw new AdapterIntegrityError(
      `adapter SHA-256 ${adapter.sha256} differs from the announced ${announced}`,
    );
  }
  return { ...adapter, etag: res.headers.get('etag') };
}

/** Narrows a conditional fetch's result. */
export const isUnchanged = (r: FeedAdapter | AdapterUnchanged): r is AdapterUnchanged => 'unchanged' in r;
