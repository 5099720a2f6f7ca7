/**
 * The round client's store for Node (the federation demo, scripts): one JSON file, replaced
 * atomically (write a temp file, fsync, rename) so a crash leaves the old or the new state, never
 * a torn one. The private key is kept as PKCS#8 in that file (mode 0600) because a file cannot
 * hold a CryptoKey; it is imported back as a non-extractable key. Update bytes are stored as
 * base64 while pending and dropped once the server acknowledged them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fromBase64Url, toBase64Url } from '../protocol/base64url.ts';
import { ClientStoreError } from './errors.ts';
import type { ClientStore, Identity, PendingKey, RoundRecord } from './store-api.ts';

interface FileIdentity extends Omit<Identity, 'privateKey'> {
  privateKeyPkcs8: string;
}
interface FilePendingKey extends Omit<PendingKey, 'privateKey'> {
  privateKeyPkcs8: string;
}
interface FileRound extends Omit<RoundRecord, 'update'> {
  update: string;
}
interface FileState {
  version: 1;
  identity?: FileIdentity;
  /** Optional, so files written before it existed still read as format 1. */
  pendingKey?: FilePendingKey;
  rounds: FileRound[];
}

const FORMAT_VERSION = 1;

/** Opens (or will create on first write) the JSON store at `path`. */
export function openFileStore(path: string): ClientStore {
  return new FileStore(path);
}

class FileStore implements ClientStore {
  /** Extractable only so the key can be written to the file; the loaded key is not extractable. */
  private readonly exportable = new WeakMap<CryptoKey, string>();
  private writing: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {}

  async generateKeyPair(): Promise<{ privateKey: CryptoKey; publicKey: string }> {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const pkcs8 = toBase64Url(new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey)));
    const publicKey = toBase64Url(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)));
    const privateKey = await importSigningKey(pkcs8);
    this.exportable.set(privateKey, pkcs8);
    return { privateKey, publicKey };
  }

  private async read(): Promise<FileState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: FORMAT_VERSION, rounds: [] };
      throw new ClientStoreError(`cannot read the client store ${this.path}`, { cause: err });
    }
    let state: FileState;
    try {
      state = JSON.parse(text) as FileState;
    } catch (cause) {
      throw new ClientStoreError(`the client store ${this.path} is not valid JSON`, { cause });
    }
    if (state.version !== FORMAT_VERSION || !Array.isArray(state.rounds))
      throw new ClientStoreError(`the client store ${this.path} has an unknown format`);
    return state;
  }

  /** Serialised read-modify-write with an atomic replace. */
  private update(change: (s: FileState) => void): Promise<void> {
    const run = this.writing.then(async () => {
      const state = await this.read();
      change(state);
      const tmp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await mkdir(dirname(this.path), { recursive: true });
        const fh = await open(tmp, 'w', 0o600);
        try {
          await fh.writeFile(JSON.stringify(state));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, this.path);
      } catch (cause) {
        await rm(tmp, { force: true });
        throw new ClientStoreError(`cannot write the client store ${this.path}`, { cause });
      }
    });
    this.writing = run.catch(() => undefined);
    return run;
  }

  async getIdentity(): Promise<Identity | undefined> {
    const s = await this.read();
    if (!s.identity) return undefined;
    const { privateKeyPkcs8, ...rest } = s.identity;
    const privateKey = await importSigningKey(privateKeyPkcs8);
    return { ...rest, privateKey };
  }

  private pkcs8Of(key: CryptoKey): string {
    const pkcs8 = this.exportable.get(key);
    if (!pkcs8)
      throw new ClientStoreError('the file store can only keep keys it generated (generateKeyPair)');
    return pkcs8;
  }

  async putIdentity(identity: Identity): Promise<void> {
    const pkcs8 = this.pkcs8Of(identity.privateKey);
    const { privateKey: _key, ...rest } = identity;
    await this.update((s) => {
      s.identity = { ...rest, privateKeyPkcs8: pkcs8 };
      delete s.pendingKey;
    });
  }

  async getPendingKey(): Promise<PendingKey | undefined> {
    const s = await this.read();
    if (!s.pendingKey) return undefined;
    const { privateKeyPkcs8, ...rest } = s.pendingKey;
    const privateKey = await importSigningKey(privateKeyPkcs8);
    // a reloaded pending key becomes the identity's key: this store must be able to write it again
    this.exportable.set(privateKey, privateKeyPkcs8);
    return { ...rest, privateKey };
  }

  async putPendingKey(key: PendingKey): Promise<void> {
    const pkcs8 = this.pkcs8Of(key.privateKey);
    const { privateKey: _key, ...rest } = key;
    await this.update((s) => {
      s.pendingKey = { ...rest, privateKeyPkcs8: pkcs8 };
    });
  }

  async latestRound(taskId: string): Promise<RoundRecord | undefined> {
    const all = await this.listRounds(taskId);
    return all[all.length - 1];
  }

  async listRounds(taskId: string): Promise<RoundRecord[]> {
    const s = await this.read();
    return s.rounds
      .filter((r) => r.taskId === taskId)
      .sort((a, b) => a.round - b.round)
      .map((r) => ({ ...r, update: fromBase64Url(r.update) ?? new Uint8Array(0) }));
  }

  async putRound(record: RoundRecord): Promise<void> {
    const row: FileRound = { ...record, update: toBase64Url(record.update) };
    await this.update((s) => {
      s.rounds = s.rounds.filter((r) => !(r.taskId === record.taskId && r.round === record.round));
      s.rounds.push(row);
    });
  }

  async close(): Promise<void> {
    await this.writing;
  }
}

async function importSigningKey(pkcs8: string): Promise<CryptoKey> {
  const raw = fromBase64Url(pkcs8);
  try {
    if (!raw) throw new Error('not base64url');
    return await crypto.subtle.importKey(
      'pkcs8',
      raw as Uint8Array<ArrayBuffer>,
      { name: 'Ed25519' },
      false,
      ['sign'],
    );
  } catch (cause) {
    throw new ClientStoreError('the stored private key is not a valid Ed25519 PKCS#8 key', { cause });
  }
}
