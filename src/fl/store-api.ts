/**
 * What the round client keeps between page loads or process restarts: the institution's identity
 * (its Ed25519 key) and per-round progress, so a reload after training re-uploads the stored
 * update instead of training again. Implemented over IndexedDB (store-idb.ts, browser console)
 * and over a JSON file (store-file.ts, Node).
 */
import type { EvalResult } from '../training/api.ts';
import type { UpdateReceipt } from '../protocol/schemas.ts';

export interface Identity {
  /** The server this identity is enrolled with (origin, no trailing slash). */
  serverUrl: string;
  institutionId: string;
  name: string;
  /** base64url raw Ed25519 public key, as enrolled. */
  publicKey: string;
  /** Ed25519 signing key (non-extractable where the store can persist such a key). */
  privateKey: CryptoKey;
  enrolledAt: string;
}

/**
 * A key pair made for an enrolment whose reply has not arrived yet. It is stored before the first
 * attempt so every retry — in the same call, after a reload or a restarted process — sends the same
 * public key, which the server answers like the first enrolment; a new key would be refused once the
 * server has committed the first one (the one-time code is bound to it).
 */
export interface PendingKey {
  /** The server the enrolment was sent to (origin, no trailing slash). */
  serverUrl: string;
  /** base64url raw Ed25519 public key, as sent. */
  publicKey: string;
  privateKey: CryptoKey;
  createdAt: string;
}

/** What a round's local training produced and measured. */
export interface RoundMetrics {
  numExamples: number;
  steps: number;
  /** Loss of every optimizer step, in order. */
  stepLosses: number[];
  /** Mean of `stepLosses`. */
  trainLoss: number;
  evalBefore: EvalResult;
  evalAfter: EvalResult;
  /** L2 distance of the sent tensors from the global adapter, after clipping. */
  updateNorm: number;
  /** True when the update was scaled down to the task's norm bound. */
  clipped: boolean;
  trainA: boolean;
}

/**
 * `trained`: the update is built and stored, not yet acknowledged.
 * `uploaded`: the server's receipt is stored (the bytes are dropped).
 * `abandoned`: the server no longer takes it (the round closed); kept for the history.
 */
export type RoundStage = 'trained' | 'uploaded' | 'abandoned';

export interface RoundRecord {
  taskId: string;
  round: number;
  globalVersion: number;
  stage: RoundStage;
  /** The exact safetensors bytes to upload (empty once uploaded or abandoned). */
  update: Uint8Array;
  sha256: string;
  metrics: RoundMetrics;
  receipt?: UpdateReceipt;
  /** Why the update was abandoned (the server's code). */
  reason?: string;
  updatedAt: string;
}

export interface ClientStore {
  /** A new key pair this store can persist (non-extractable where possible). */
  generateKeyPair(): Promise<{ privateKey: CryptoKey; publicKey: string }>;
  /** @throws {ClientStoreError} when the store cannot be read. */
  getIdentity(): Promise<Identity | undefined>;
  /** Stores the identity and drops the pending key, in one write. @throws {ClientStoreError} */
  putIdentity(identity: Identity): Promise<void>;
  /** The key of an enrolment not yet answered, if any. @throws {ClientStoreError} */
  getPendingKey(): Promise<PendingKey | undefined>;
  /**
   * Keeps `key` (from this store's `generateKeyPair`) durably until `putIdentity`.
   * @throws {ClientStoreError} when the store cannot be written or did not make the key.
   */
  putPendingKey(key: PendingKey): Promise<void>;
  /** The task's record with the highest round number. @throws {ClientStoreError} */
  latestRound(taskId: string): Promise<RoundRecord | undefined>;
  /** Every record of a task, oldest round first (the console's history). @throws {ClientStoreError} */
  listRounds(taskId: string): Promise<RoundRecord[]>;
  /** Inserts or replaces the record of (taskId, round), durably. @throws {ClientStoreError} */
  putRound(record: RoundRecord): Promise<void>;
  close(): Promise<void>;
}
