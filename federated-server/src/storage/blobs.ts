/**
 * Blob store for adapters and updates, sealed at rest (./sealed.ts, AES-256-GCM under the
 * server's blob key). A blob is durable before any database row refers to it: sealed into a temp
 * file, fsynced, renamed into place, directory fsynced. A crash leaves at worst an unreferenced
 * blob or temp file, never a row pointing at nothing.
 *
 * Two kinds of names: global adapters and optimizer state are content-addressed by the SHA-256 of
 * their plaintext (the registry publishes it and it is the public ETag); individual uploads get a
 * random name (`u_…`), so nothing on disk links an upload's content, and they are deleted once
 * their round is aggregated or failed.
 *
 * Files are 0600 and directories 0700 whatever the umask (set explicitly after creation).
 * Plaintext exists on disk only in `tmp/` while an upload is being received and validated.
 *
 * Replicas share one store (the data directory on a shared filesystem): every name is random or
 * content-addressed and every write is temp + fsync + rename, so processes never see each other's
 * partial files. A starting process removes only temp files older than `staleTempMs` (default one
 * hour, far above any upload's life): younger ones may be another replica's upload in progress.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SealedFile, writeSealed } from './sealed.ts';

const SHA256 = /^[0-9a-f]{64}$/;
const UPLOAD = /^u_[0-9a-f]{32}$/;
const EXT = '.sealed';

async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

export class BlobStore {
  private constructor(
    readonly dir: string,
    private readonly key: Uint8Array,
  ) {}

  /**
   * Creates the store's directories (0700), removes temp files a crash left behind (those older
   * than `staleTempMs`: a younger one may be another replica's), and seals any plaintext blob an
   * older server version left (`<aa>/<sha>.safetensors`).
   */
  static async open(dir: string, key: Uint8Array, opts: { staleTempMs?: number } = {}): Promise<BlobStore> {
    await privateDir(dir);
    await privateDir(join(dir, 'tmp'));
    await privateDir(join(dir, 'updates'));
    const before = Date.now() - (opts.staleTempMs ?? 3_600_000);
    for (const f of await readdir(join(dir, 'tmp'))) {
      const file = join(dir, 'tmp', f);
      const st = await stat(file).catch(() => undefined); // gone already: its owner finished
      if (st && st.mtimeMs < before) await rm(file, { force: true });
    }
    const store = new BlobStore(dir, key);
    await store.sealLegacy();
    return store;
  }

  private async sealLegacy(): Promise<void> {
    for (const sub of await readdir(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      await chmod(join(this.dir, sub), 0o700);
      for (const f of await readdir(join(this.dir, sub))) {
        const m = /^([0-9a-f]{64})\.safetensors$/.exec(f);
        if (!m) continue;
        await this.commitTemp(join(this.dir, sub, f), m[1]!);
      }
    }
  }

  /** A fresh path for a temp file inside the store (same filesystem, so rename is atomic). */
  tempPath(): string {
    return join(this.dir, 'tmp', `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
  }

  /** Where a blob's sealed file lives. */
  path(name: string): string {
    if (SHA256.test(name)) return join(this.dir, name.slice(0, 2), `${name}${EXT}`);
    if (UPLOAD.test(name)) return join(this.dir, 'updates', `${name}${EXT}`);
    throw new Error(`not a blob name: ${name}`);
  }

  async has(name: string): Promise<boolean> {
    return stat(this.path(name)).then(
      () => true,
      () => false,
    );
  }

  /**
   * Seals a fully written plaintext temp file durably under `name` (a SHA-256, or a fresh upload
   * name when omitted) and removes the plaintext. Returns the name.
   */
  async commitTemp(tempPath: string, name: string = `u_${randomBytes(16).toString('hex')}`): Promise<string> {
    const dest = this.path(name);
    try {
      if (!(await this.has(name))) {
        const src = await open(tempPath, 'r');
        const sealedTmp = this.tempPath();
        try {
          const size = (await src.stat()).size;
          const out = await open(sealedTmp, 'w', 0o600);
          try {
            await writeSealed(this.key, out, size, async (position, length) => {
              const buf = Buffer.alloc(length);
              const { bytesRead } = await src.read(buf, 0, length, position);
              if (bytesRead !== length) throw new Error(`short read of ${tempPath}`);
              return buf;
            });
            await out.sync();
          } finally {
            await out.close();
          }
          await chmod(sealedTmp, 0o600);
          const destDir = join(dest, '..');
          await privateDir(destDir);
          await rename(sealedTmp, dest);
          await syncDir(destDir);
        } catch (err) {
          await rm(sealedTmp, { force: true });
          throw err;
        } finally {
          await src.close();
        }
      }
    } finally {
      await rm(tempPath, { force: true });
    }
    return name;
  }

  /** Seals bytes atomically and durably under their SHA-256, which it returns. */
  async put(bytes: Uint8Array): Promise<string> {
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (await this.has(sha)) return sha;
    const tmp = this.tempPath();
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(bytes);
      } finally {
        await fh.close();
      }
    } catch (err) {
      await rm(tmp, { force: true }); // a disk that filled up mid-write keeps no partial file
      throw err;
    }
    return this.commitTemp(tmp, sha);
  }

  /**
   * Opens a blob for random-access reads of its plaintext.
   * @throws {BlobIntegrityError} BLOB_TAMPERED if it does not authenticate under this store's key.
   */
  openBlob(name: string): Promise<SealedFile> {
    return SealedFile.open(this.key, this.path(name));
  }

  /** A blob's whole plaintext, authenticated. */
  async read(name: string): Promise<Uint8Array> {
    const f = await this.openBlob(name);
    try {
      return await f.readAll();
    } finally {
      await f.close();
    }
  }

  /** Deletes a blob (used for individual uploads once their round is over). */
  async delete(name: string): Promise<void> {
    const file = this.path(name);
    await rm(file, { force: true });
    await syncDir(join(file, '..'));
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
