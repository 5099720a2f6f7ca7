/**
 * The round client's store in the browser console: IndexedDB through `idb`. The private key is
 * kept as a non-extractable CryptoKey (IndexedDB stores CryptoKeys by structured clone), so page
 * scripts can sign with it but never read its bytes — the reason signing.ts generates it that way.
 * Each write is one IndexedDB transaction, so a reload mid-write leaves the old or the new record.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { generateInstitutionKeyPair } from '../protocol/signing.ts';
import { ClientStoreError } from './errors.ts';
import type { ClientStore, Identity, PendingKey, RoundRecord } from './store-api.ts';

interface ClientDb extends DBSchema {
  /** 'self': the enrolled identity; 'pending': the key of an enrolment not yet answered. */
  identity: { key: 'self' | 'pending'; value: Identity | PendingKey };
  rounds: { key: [string, number]; value: RoundRecord; indexes: { byTask: string } };
}

const DB_VERSION = 1;

/**
 * Opens the store named `name` (one per server/console profile).
 * @throws {ClientStoreError} when IndexedDB is unavailable or blocked.
 */
export async function openIdbStore(name = 'dure-fl-client'): Promise<ClientStore> {
  let db: IDBPDatabase<ClientDb>;
  try {
    db = await openDB<ClientDb>(name, DB_VERSION, {
      upgrade(d) {
        d.createObjectStore('identity');
        const rounds = d.createObjectStore('rounds', { keyPath: ['taskId', 'round'] });
        rounds.createIndex('byTask', 'taskId');
      },
    });
  } catch (cause) {
    throw new ClientStoreError(`cannot open IndexedDB database ${name}`, { cause });
  }
  return new IdbStore(db);
}

class IdbStore implements ClientStore {
  constructor(private readonly db: IDBPDatabase<ClientDb>) {}

  generateKeyPair(): Promise<{ privateKey: CryptoKey; publicKey: string }> {
    return generateInstitutionKeyPair();
  }

  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      throw new ClientStoreError(`IndexedDB: cannot ${what}`, { cause });
    }
  }

  getIdentity(): Promise<Identity | undefined> {
    return this.guard('read the identity', () => this.db.get('identity', 'self')) as Promise<
      Identity | undefined
    >;
  }

  async putIdentity(identity: Identity): Promise<void> {
    // One transaction: a reload sees the pending key or the identity, never neither.
    await this.guard('store the identity', async () => {
      const tx = this.db.transaction('identity', 'readwrite');
      await Promise.all([tx.store.put(identity, 'self'), tx.store.delete('pending'), tx.done]);
    });
  }

  getPendingKey(): Promise<PendingKey | undefined> {
    return this.guard('read the pending key', () => this.db.get('identity', 'pending')) as Promise<
      PendingKey | undefined
    >;
  }

  async putPendingKey(key: PendingKey): Promise<void> {
    await this.guard('store the pending key', () => this.db.put('identity', key, 'pending'));
  }

  async latestRound(taskId: string): Promise<RoundRecord | undefined> {
    const all = await this.listRounds(taskId);
    return all[all.length - 1];
  }

  listRounds(taskId: string): Promise<RoundRecord[]> {
    // The compound key [taskId, round] sorts by round within a task.
    return this.guard('read rounds', () => this.db.getAllFromIndex('rounds', 'byTask', taskId)).then((rs) =>
      rs.sort((a, b) => a.round - b.round),
    );
  }

  async putRound(record: RoundRecord): Promise<void> {
    await this.guard('store a round', () => this.db.put('rounds', record));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
