/**
 * The signed head of the audit hash chain. The chain (./audit.ts) shows that no entry was edited
 * or removed from the middle, but whoever holds the database can delete the newest entries, or
 * rewrite everything and recompute the hashes. A head — the last entry's seq and hash — signed
 * with an Ed25519 key the database does not hold (the server key in the data directory, or
 * DURE_AUDIT_KEY_FILE) pins the chain: `audit verify` checks that the signed entry is still there
 * with the same hash. The server writes the head to `<dataDir>/audit-head.json` and its log
 * periodically and serves it at `GET /v1/admin/audit/head`; an operator who copies heads
 * somewhere else (a log collector, a ticket) can later prove a rollback to before them.
 */
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { canonicalJson } from './audit.ts';
import type { Queryable } from './storage/db.ts';
import type { ServerKey } from './server-key.ts';
import { fromBase64Url, toBase64Url } from '../../src/protocol/base64url.ts';
import { serverKeyId } from '../../src/protocol/airgap.ts';

export const AUDIT_HEAD_FILE = 'audit-head.json';
/** Domain separation: this key also signs air-gap documents, which never start with this line. */
const HEAD_CONTEXT = 'dure-audit-head/v1';

export interface SignedAuditHead {
  /** The last entry's sequence number (0 for an empty log). */
  seq: number;
  /** The last entry's hash (64 zeros for an empty log). */
  hash: string;
  /** When it was signed (ms since the epoch). */
  at: number;
  keyId: string;
  /** Raw Ed25519 public key, base64url. */
  publicKey: string;
  /** Ed25519 signature over `headBytes`, base64url. */
  signature: string;
}

const headBytes = (h: Pick<SignedAuditHead, 'seq' | 'hash' | 'at' | 'keyId'>) =>
  new TextEncoder().encode(
    `${HEAD_CONTEXT}\n${canonicalJson({ seq: h.seq, hash: h.hash, at: h.at, keyId: h.keyId })}`,
  );

/** Signs the current head of the chain. */
export async function signAuditHead(db: Queryable, key: ServerKey): Promise<SignedAuditHead> {
  const [last] = await db.query<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
  );
  const head = { seq: last?.seq ?? 0, hash: last?.hash ?? '0'.repeat(64), at: Date.now(), keyId: key.keyId };
  const sig = await crypto.subtle.sign({ name: 'Ed25519' }, key.privateKey, headBytes(head));
  return { ...head, publicKey: key.publicKey, signature: toBase64Url(new Uint8Array(sig)) };
}

/** Signs the head and writes it to `file` atomically (a reader never sees half a head). */
export async function exportAuditHead(db: Queryable, key: ServerKey, file: string): Promise<SignedAuditHead> {
  const head = await signAuditHead(db, key);
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`; // replicas may share the folder
  await writeFile(tmp, `${JSON.stringify(head)}\n`, { mode: 0o644 });
  await rename(tmp, file);
  return head;
}

/**
 * Whether `head` carries a valid signature by `publicKey` (the key the auditor trusts; the head's
 * own `publicKey` field is only a hint, since a forger would put theirs there).
 */
export async function verifyAuditHeadSignature(head: SignedAuditHead, publicKey: string): Promise<boolean> {
  const raw = fromBase64Url(publicKey);
  const sig = fromBase64Url(head.signature);
  if (!raw || raw.length !== 32 || !sig) return false;
  if (head.keyId !== (await serverKeyId(publicKey))) return false;
  try {
    const key = await crypto.subtle.importKey('raw', new Uint8Array(raw), { name: 'Ed25519' }, false, [
      'verify',
    ]);
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, new Uint8Array(sig), headBytes(head));
  } catch {
    return false;
  }
}
