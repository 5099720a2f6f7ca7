/**
 * Content-addressed blob store for adapters and updates. A blob is durable before any database
 * row refers to it: written to a temp file, fsynced, renamed into place, directory fsynced. A
 * crash leaves at worst an unreferenced blob or temp file, never a row pointing at nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export class BlobStore {
  private constructor(readonly dir: string) {}

  /** Creates the store's directories; removes temp files a crash left behind. */
  static async open(dir: string): Promise<BlobStore> {
    await mkdir(join(dir, 'tmp'), { recursive: true });
    for (const f of await readdir(join(dir, 'tmp'))) await rm(join(dir, 'tmp', f), { force: true });
    return new BlobStore(dir);
  }

  /** A fresh path for a temp file inside the store (same filesystem, so rename is atomic). */
  tempPath(): string {
    return join(this.dir, 'tmp', `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
  }

  path(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.dir, sha256.slice(0, 2), `${sha256}.safetensors`);
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.path(sha256)).then(
      () => true,
      () => false,
    );
  }

  /** Makes a fully written temp file durable under its hash. */
  async commitTemp(tempPath: string, sha256: string): Promise<string> {
    const fh = await open(tempPath, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const dest = this.path(sha256);
    const destDir = join(this.dir, sha256.slice(0, 2));
    await mkdir(destDir, { recursive: true });
    await rename(tempPath, dest);
    await syncDir(destDir);
    return dest;
  }

  /** Writes bytes atomically and durably; returns their SHA-256. */
  async put(bytes: Uint8Array): Promise<string> {
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (await this.has(sha)) return sha;
    const tmp = this.tempPath();
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
    } finally {
      await fh.close();
    }
    await this.commitTemp(tmp, sha);
    return sha;
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
