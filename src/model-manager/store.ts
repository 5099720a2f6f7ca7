/**
 * Where downloaded models live: the Origin Private File System when the browser has it (one file
 * per model, appendable so a download can resume), else the Cache API (chunks as entries), else
 * memory (private windows that refuse both — the model then lives only as long as the page).
 */

export interface StoredModelMeta {
  key: string;
  url: string;
  sha256?: string;
  /** Bytes the server announced; 0 while unknown. */
  totalBytes: number;
  /** True once every byte is in and the hash (if configured) matched. */
  complete: boolean;
  updatedAt: number;
}

export interface StoredModel {
  meta: StoredModelMeta;
  /** Bytes stored so far (the partial length while incomplete). */
  size: number;
}

export interface ModelEntry {
  readonly key: string;
  size(): Promise<number>;
  /** @throws {DOMException} `QuotaExceededError` when storage is full. */
  append(bytes: Uint8Array): Promise<void>;
  truncate(): Promise<void>;
  /** The stored bytes as one Blob (lazy where the backend allows). */
  blob(): Promise<Blob>;
  readMeta(): Promise<StoredModelMeta | null>;
  writeMeta(meta: StoredModelMeta): Promise<void>;
}

export interface ModelStore {
  readonly kind: 'opfs' | 'cache' | 'memory';
  entry(key: string): Promise<ModelEntry>;
  list(): Promise<StoredModel[]>;
  delete(key: string): Promise<void>;
}

const SAFE_KEY = /^[a-z0-9-]{1,80}$/;
function checkKey(key: string): void {
  if (!SAFE_KEY.test(key)) throw new TypeError(`invalid model key ${JSON.stringify(key)}`);
}

/** Keeps models in memory; the fallback when the browser offers no persistent storage. */
export class MemoryModelStore implements ModelStore {
  readonly kind = 'memory' as const;
  private readonly data = new Map<string, { parts: Uint8Array[]; meta: StoredModelMeta | null }>();

  async entry(key: string): Promise<ModelEntry> {
    checkKey(key);
    let slot = this.data.get(key);
    if (!slot) this.data.set(key, (slot = { parts: [], meta: null }));
    const s = slot;
    return {
      key,
      size: async () => s.parts.reduce((n, p) => n + p.byteLength, 0),
      append: async (bytes) => void s.parts.push(bytes.slice()),
      truncate: async () => void (s.parts.length = 0),
      blob: async () => new Blob(s.parts as BlobPart[]),
      readMeta: async () => s.meta,
      writeMeta: async (meta) => void (s.meta = { ...meta }),
    };
  }

  async list(): Promise<StoredModel[]> {
    const out: StoredModel[] = [];
    for (const [key, s] of this.data) {
      if (!s.meta) continue;
      out.push({ meta: s.meta, size: await (await this.entry(key)).size() });
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
}

const DIR = 'dure-models';

/**
 * OPFS: one directory per model, `dure-models/<key>/`, holding the bytes as numbered part files
 * plus `meta.json`. Appending writes a new part and never rewrites earlier bytes (a writable with
 * `keepExistingData` copies the whole file first, which is quadratic over a 1 GB download), and a
 * part only counts once its write closed, so a reload mid-download resumes after the last
 * complete part. `blob()` joins the parts lazily: no copy of the model is made.
 */
export class OpfsModelStore implements ModelStore {
  readonly kind = 'opfs' as const;
  constructor(private readonly root: FileSystemDirectoryHandle) {}

  static async open(): Promise<OpfsModelStore> {
    const top = await navigator.storage.getDirectory();
    return new OpfsModelStore(await top.getDirectoryHandle(DIR, { create: true }));
  }

  private static async parts(dir: FileSystemDirectoryHandle): Promise<File[]> {
    const names: string[] = [];
    // `keys()` is missing from TS's DOM lib typings for directory handles.
    for await (const n of (dir as unknown as { keys(): AsyncIterable<string> }).keys())
      if (/^part-\d{6}$/.test(n)) names.push(n);
    names.sort();
    const files: File[] = [];
    // Parts are written in order; stop at the first gap so a torn write never counts.
    for (let i = 0; i < names.length && names[i] === partName(i); i++)
      files.push(await (await dir.getFileHandle(names[i] ?? '')).getFile());
    return files;
  }

  async entry(key: string): Promise<ModelEntry> {
    checkKey(key);
    const dir = await this.root.getDirectoryHandle(key, { create: true });
    const parts = () => OpfsModelStore.parts(dir);
    return {
      key,
      size: async () => (await parts()).reduce((n, f) => n + f.size, 0),
      async append(bytes) {
        const index = (await parts()).length;
        // A writable's data lands in the file only on close(); an interrupted part is removed.
        const h = await dir.getFileHandle(partName(index), { create: true });
        const w = await h.createWritable({ keepExistingData: false });
        try {
          await w.write(bytes as BufferSource);
          await w.close();
        } catch (e) {
          await w.abort().catch(() => undefined);
          await dir.removeEntry(partName(index)).catch(() => undefined);
          throw e;
        }
      },
      async truncate() {
        for (const f of await parts()) await dir.removeEntry(f.name).catch(() => undefined);
      },
      blob: async () => new Blob(await parts()),
      async readMeta() {
        try {
          const h = await dir.getFileHandle('meta.json');
          return JSON.parse(await (await h.getFile()).text()) as StoredModelMeta;
        } catch {
          return null;
        }
      },
      async writeMeta(meta) {
        const h = await dir.getFileHandle('meta.json', { create: true });
        const w = await h.createWritable();
        await w.write(JSON.stringify(meta));
        await w.close();
      },
    };
  }

  async list(): Promise<StoredModel[]> {
    const out: StoredModel[] = [];
    for await (const name of (this.root as unknown as { keys(): AsyncIterable<string> }).keys()) {
      if (!SAFE_KEY.test(name)) continue;
      const e = await this.entry(name);
      const meta = await e.readMeta();
      if (meta) out.push({ meta, size: await e.size() });
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.root.removeEntry(key, { recursive: true }).catch(() => undefined);
  }
}

function partName(i: number): string {
  return `part-${String(i).padStart(6, '0')}`;
}

/** Cache API fallback: chunks are separate responses, so appending never rewrites old bytes. */
export class CacheModelStore implements ModelStore {
  readonly kind = 'cache' as const;
  constructor(private readonly cache: Cache) {}

  static async open(): Promise<CacheModelStore> {
    return new CacheModelStore(await caches.open(DIR));
  }

  private url(key: string, part: string): string {
    return `/__dure-models/${key}/${part}`;
  }

  async entry(key: string): Promise<ModelEntry> {
    checkKey(key);
    const cache = this.cache;
    const url = (p: string) => this.url(key, p);
    const index = async (): Promise<number[]> => {
      const r = await cache.match(url('index'));
      return r ? ((await r.json()) as number[]) : [];
    };
    const meta = async (): Promise<StoredModelMeta | null> => {
      const r = await cache.match(url('meta'));
      return r ? ((await r.json()) as StoredModelMeta) : null;
    };
    return {
      key,
      size: async () => (await index()).reduce((a, b) => a + b, 0),
      async append(bytes) {
        const idx = await index();
        await cache.put(url(`chunk-${idx.length}`), new Response(bytes.slice()));
        idx.push(bytes.byteLength);
        await cache.put(url('index'), Response.json(idx));
      },
      async truncate() {
        const idx = await index();
        for (let i = 0; i < idx.length; i++) await cache.delete(url(`chunk-${i}`));
        await cache.put(url('index'), Response.json([]));
      },
      async blob() {
        const idx = await index();
        const parts: Blob[] = [];
        for (let i = 0; i < idx.length; i++) {
          const r = await cache.match(url(`chunk-${i}`));
          if (!r) throw new Error(`model chunk ${i} missing from cache`);
          parts.push(await r.blob());
        }
        return new Blob(parts);
      },
      readMeta: meta,
      writeMeta: async (m) => cache.put(url('meta'), Response.json(m)),
    };
  }

  async list(): Promise<StoredModel[]> {
    const out: StoredModel[] = [];
    for (const req of await this.cache.keys()) {
      const m = /\/__dure-models\/([a-z0-9-]+)\/meta$/.exec(new URL(req.url).pathname);
      if (!m?.[1]) continue;
      const e = await this.entry(m[1]);
      const meta = await e.readMeta();
      if (meta) out.push({ meta, size: await e.size() });
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    const prefix = `/__dure-models/${key}/`;
    for (const req of await this.cache.keys())
      if (new URL(req.url).pathname.startsWith(prefix)) await this.cache.delete(req);
  }
}

/** The best store this browser offers. */
export async function openModelStore(): Promise<ModelStore> {
  try {
    if (typeof navigator !== 'undefined' && navigator.storage && 'getDirectory' in navigator.storage) {
      const store = await OpfsModelStore.open();
      // Some browsers expose OPFS but not writable streams on the main thread (Safari < 17).
      const probe = await store.entry('probe');
      await probe.truncate();
      await store.delete('probe');
      return store;
    }
  } catch {
    // fall through to the Cache API
  }
  try {
    if (typeof caches !== 'undefined') return await CacheModelStore.open();
  } catch {
    // fall through to memory
  }
  return new MemoryModelStore();
}
