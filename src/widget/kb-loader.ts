/**
 * The portal's knowledge base for the widget and the SDK: downloaded from an allowed origin,
 * verified (the hash kb.json states over its passages, and the portal's pinned `kb-sha256`), and
 * kept in the Cache API so answers stay grounded offline. Network first: a portal updates its
 * guides more often than its model, and the file is small; the stored copy (verified again) is
 * used when the network is not there.
 *
 * Retrieval then runs on the page, not in the engine worker: BM25 over a city's guides takes well
 * under a millisecond, the CPU path (llama.cpp) has no Dure worker to put it in, and the SDK and
 * the widget share the page-side code either way.
 */
import { KnowledgeBaseDownloadError } from '../protocol/errors.ts';
import { parseKnowledgeBase, type KnowledgeBaseFile } from '../knowledge/kb-file.ts';
import { checkOrigin } from '../model-manager/download.ts';

export const KB_CACHE = 'dure-kb-v1';

export interface LoadedKnowledgeBase {
  kb: KnowledgeBaseFile;
  /** The kb.json address, for resolving the passages' relative URLs. */
  url: string;
  fromCache: boolean;
}

async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches === 'undefined' ? null : await caches.open(KB_CACHE);
  } catch {
    // Opaque origins and some private modes have no Cache API: no offline copy, nothing else lost.
    return null;
  }
}

/**
 * @throws {import('../model-manager/errors.ts').ModelOriginError} for a URL outside the allowed origins.
 * @throws {KnowledgeBaseDownloadError} when it cannot be fetched and no stored copy verifies.
 * @throws {import('../protocol/errors.ts').KnowledgeBaseIntegrityError} and `KnowledgeBaseFormatError`
 *   when the downloaded file is not the expected knowledge base (never replaced by an older copy).
 */
export async function loadKnowledgeBase(
  kbUrl: string,
  opts: { sha256?: string; allowedOrigins?: readonly string[]; signal?: AbortSignal } = {},
): Promise<LoadedKnowledgeBase> {
  const url = checkOrigin(kbUrl, [location.origin, ...(opts.allowedOrigins ?? [])]).href;
  const cache = await openCache();
  let res: Response | null = null;
  let netError: unknown = null;
  try {
    res = await fetch(url, {
      cache: 'no-cache',
      credentials: 'same-origin',
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (!res.ok) {
      netError = new Error(`HTTP ${res.status}`);
      res = null;
    }
  } catch (e) {
    netError = e;
  }
  if (res) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    const kb = parseKnowledgeBase(bytes, opts.sha256 || undefined);
    await cache
      ?.put(url, new Response(bytes, { headers: { 'content-type': 'application/json' } }))
      .catch(() => undefined);
    return { kb, url, fromCache: false };
  }
  const stored = await cache?.match(url).catch(() => undefined);
  if (stored) {
    const kb = parseKnowledgeBase(new Uint8Array(await stored.arrayBuffer()), opts.sha256 || undefined);
    return { kb, url, fromCache: true };
  }
  throw new KnowledgeBaseDownloadError(
    `cannot download ${url} (${netError instanceof Error ? netError.message : String(netError)}) and no copy is stored`,
    { cause: netError },
  );
}

/** A citation's URL made absolute against the kb.json address (the widget links only http(s)). */
export function resolveCitationUrl(url: string | undefined, kbUrl: string): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url, kbUrl).href;
  } catch {
    return undefined;
  }
}
