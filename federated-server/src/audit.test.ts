import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { appendAudit, canonicalJson, entryHash, verifyAuditChain } from './audit.ts';
import {
  AUDIT_HEAD_FILE,
  exportAuditHead,
  signAuditHead,
  verifyAuditHeadSignature,
  type SignedAuditHead,
} from './audit-head.ts';
import { loadServerKey, loadSigningKey, type ServerKey } from './server-key.ts';
import { main } from './cli.ts';
import { openDatabase, type Database } from './storage/db.ts';
import { migrate } from './storage/migrations.ts';
import { freshDataDir, startTestServer } from './testing/harness.ts';

const run = promisify(execFile);

describe('audit log hash chain', () => {
  let dataDir: string;
  let db: Database;
  beforeAll(async () => {
    dataDir = await freshDataDir();
    db = await openDatabase({ pgliteDir: join(dataDir, 'pglite') });
    await migrate(db);
  });
  afterAll(async () => {
    await db.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const fill = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await db.transaction((tx) =>
        appendAudit(tx, 'update.accepted', `inst_${i}`, { round: i, 기관: '서울', nested: { b: 1, a: [i] } }),
      );
    }
  };
  const snapshot = () => db.query<Record<string, unknown>>('SELECT * FROM audit_log ORDER BY seq');
  const restore = async (rows: Record<string, unknown>[]) => {
    await db.query('DELETE FROM audit_log');
    for (const r of rows) {
      await db.query(
        'INSERT INTO audit_log (seq, at, type, actor, data, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7)',
        [r['seq'], r['at'], r['type'], r['actor'], r['data'], r['prev_hash'], r['hash']],
      );
    }
  };

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: '한' } })).toBe(
      '{"a":{"c":"한","d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });

  it('verifies an intact chain and reports its head', async () => {
    await fill(6);
    const v = await verifyAuditChain(db);
    expect(v).toMatchObject({ ok: true, entries: 6 });
    const rows = await snapshot();
    expect(v.headHash).toBe(rows[5]!['hash']);
    expect(rows[1]!['prev_hash']).toBe(rows[0]!['hash']);
  });

  it.each([
    [
      'an edited entry',
      `UPDATE audit_log SET data = replace(data, '"round":2', '"round":9') WHERE seq = 3`,
      3,
      /edited/,
    ],
    ['an edited actor', `UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2`, 2, /edited/],
    ['a deleted entry', `DELETE FROM audit_log WHERE seq = 4`, 5, /missing/],
    [
      'a re-hashed edit (chain broken after it)',
      `UPDATE audit_log SET hash = repeat('a', 64) WHERE seq = 2`,
      2,
      /edited/,
    ],
  ])('detects %s', async (_what, sql, seq, reason) => {
    const rows = await snapshot();
    await db.query(sql);
    const v = await verifyAuditChain(db);
    expect(v.ok).toBe(false);
    expect(v.problem?.seq).toBe(seq);
    expect(v.problem?.reason).toMatch(reason);
    await restore(rows);
    expect((await verifyAuditChain(db)).ok).toBe(true);
  });

  it('`dure-server audit verify` exits 0 on an intact log and 1 after tampering', async () => {
    await db.close();
    const env = { DURE_DATA_DIR: dataDir };
    expect(await main(['audit', 'verify', '--json'], env)).toBe(0);
    db = await openDatabase({ pgliteDir: join(dataDir, 'pglite') });
    await db.query(`UPDATE audit_log SET data = '{"round":0}' WHERE seq = 1`);
    await db.close();
    // through the real bin launcher, as an auditor would run it
    const bin = resolve(import.meta.dirname, '../../bin/dure-server.js');
    const err = await run(process.execPath, [bin, 'audit', 'verify'], {
      env: { ...process.env, ...env },
    }).catch((e: { code: number; stdout: string }) => e);
    expect('code' in err ? err.code : 0).toBe(1);
    expect(err.stdout).toMatch(/BROKEN at entry 1: content does not match its hash/);
    db = await openDatabase({ pgliteDir: join(dataDir, 'pglite') });
  });
});

describe('signed audit head', () => {
  let dataDir: string;
  let db: Database;
  let key: ServerKey;
  beforeAll(async () => {
    dataDir = await freshDataDir();
    db = await openDatabase({ pgliteDir: join(dataDir, 'pglite') });
    await migrate(db);
    key = await loadServerKey(dataDir); // what the server signs with by default
    for (let i = 0; i < 7; i++)
      await db.transaction((tx) => appendAudit(tx, 'update.accepted', `inst_${i}`, { round: i }));
  });
  afterAll(async () => {
    await db.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const rows = () => db.query<Record<string, unknown>>('SELECT * FROM audit_log ORDER BY seq');
  const putBack = async (saved: Record<string, unknown>[]) => {
    await db.query('DELETE FROM audit_log');
    for (const r of saved)
      await db.query(
        'INSERT INTO audit_log (seq, at, type, actor, data, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7)',
        [r['seq'], r['at'], r['type'], r['actor'], r['data'], r['prev_hash'], r['hash']],
      );
  };

  it('streams the table in batches of the given size', async () => {
    let largest = 0;
    const counting = {
      query: async <T>(sql: string, params?: unknown[]) => {
        const out = await db.query<T>(sql, params);
        largest = Math.max(largest, out.length);
        return out;
      },
    };
    const v = await verifyAuditChain(counting, { batchSize: 3 });
    expect(v).toMatchObject({ ok: true, entries: 7, batches: 3 }); // 3 + 3 + 1 rows
    expect(largest).toBe(3);
    expect((await verifyAuditChain(db, { batchSize: 7 })).batches).toBe(2); // 7, then an empty read
  });

  it('signs the head so that only the audit key verifies it', async () => {
    const head = await signAuditHead(db, key);
    const [last] = await rows();
    expect(head.seq).toBe(7);
    expect(head.hash).toBe((await rows())[6]!['hash']);
    expect(last).toBeDefined();
    expect(await verifyAuditHeadSignature(head, key.publicKey)).toBe(true);
    expect(await verifyAuditHeadSignature({ ...head, seq: 5 }, key.publicKey)).toBe(false);
    const other = await loadSigningKey(join(dataDir, 'other-key.jwk'));
    expect(await verifyAuditHeadSignature(head, other.publicKey)).toBe(false);
    const forged = await signAuditHead(db, other);
    expect(await verifyAuditHeadSignature({ ...forged, keyId: key.keyId }, key.publicKey)).toBe(false);
  });

  it('detects deleting the newest entries only through the signed head', async () => {
    const saved = await rows();
    const head = await signAuditHead(db, key);
    await db.query('DELETE FROM audit_log WHERE seq > 4');
    expect((await verifyAuditChain(db)).ok).toBe(true); // the chain alone cannot tell
    const v = await verifyAuditChain(db, { pinned: head });
    expect(v).toMatchObject({ ok: false, problem: { seq: 7 } });
    expect(v.problem!.reason).toMatch(/rolled back/);
    await putBack(saved);
  });

  it('detects an edit re-hashed through the whole chain by someone holding the database', async () => {
    const saved = await rows();
    const head = await signAuditHead(db, key);
    // Rewrite entry 2 and recompute every hash after it, as an attacker with SQL access can.
    let prev = String(saved[0]!['hash']);
    for (const r of saved.slice(1)) {
      const data = r['seq'] === 2 ? canonicalJson({ round: 99 }) : String(r['data']);
      const e = {
        seq: Number(r['seq']),
        at: Number(r['at']),
        type: String(r['type']),
        actor: String(r['actor']),
        data,
      };
      const hash = entryHash(prev, e);
      await db.query('UPDATE audit_log SET data = $1, prev_hash = $2, hash = $3 WHERE seq = $4', [
        data,
        prev,
        hash,
        e.seq,
      ]);
      prev = hash;
    }
    expect((await verifyAuditChain(db)).ok).toBe(true); // internally consistent
    const v = await verifyAuditChain(db, { pinned: head });
    expect(v).toMatchObject({ ok: false, problem: { seq: 7 } });
    expect(v.problem!.reason).toMatch(/rewritten/);
    await putBack(saved);
  });

  it('`audit verify` checks the exported head file: a rollback and a forged head exit 1', async () => {
    const headFile = join(dataDir, AUDIT_HEAD_FILE);
    const head = await exportAuditHead(db, key, headFile);
    await db.close();
    const env = { DURE_DATA_DIR: dataDir };
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    try {
      expect(await main(['audit', 'verify', '--json', '--batch', '2'], env)).toBe(0);
      expect(JSON.parse(out.pop()!)).toMatchObject({
        ok: true,
        entries: 7,
        batches: 4,
        pinnedSeq: 7,
        signedHead: 'verified',
      });
      db = await openDatabase({ pgliteDir: join(dataDir, 'pglite') });
      await db.query('DELETE FROM audit_log WHERE seq = 7');
      await db.close();
      expect(await main(['audit', 'verify'], env)).toBe(1);
      expect(out.pop()).toMatch(/BROKEN at entry 7: .*rolled back/);
      // A head re-signed by another key (the attacker's) is refused, whatever it names.
      const other = await loadSigningKey(join(dataDir, 'attacker.jwk'));
      writeFileSync(
        headFile,
        JSON.stringify({
          ...head,
          seq: 6,
          signature: (
            await signAuditHead({ query: async <T>() => [{ seq: 6, hash: head.hash }] as T[] }, other)
          ).signature,
        }),
      );
      expect(await main(['audit', 'verify', '--public-key', key.publicKey], env)).toBe(1);
      expect(out.pop()).toMatch(/does not verify/);
    } finally {
      log.mockRestore();
      db = await openDatabase({ pgliteDir: join(dataDir, 'pglite') });
    }
  });
});

describe('audited by the server', () => {
  it('failed admin logins are audited and the head is served signed', async () => {
    const t = await startTestServer({ options: { auditHeadIntervalMs: 0 } });
    try {
      const bad = await t.server.app.inject({
        method: 'GET',
        url: '/v1/admin/tasks',
        headers: { authorization: 'Bearer wrong-token-0123456789abcdef' },
      });
      expect(bad.statusCode).toBe(401);
      const entries = await t.admin.call<{ type: string; actor: string }[]>('GET', '/v1/admin/audit');
      expect(entries.filter((e) => e.type === 'admin.login_failed')).toEqual([
        expect.objectContaining({ actor: expect.stringMatching(/^ip:/) }),
      ]);
      const head = await t.admin.call<SignedAuditHead>('GET', '/v1/admin/audit/head');
      expect(head.seq).toBe(entries.at(-1)!['seq' as keyof (typeof entries)[number]]);
      const serverKey = await loadServerKey(t.dataDir);
      expect(head.keyId).toBe(serverKey.keyId);
      expect(await verifyAuditHeadSignature(head, serverKey.publicKey)).toBe(true);
      // The head exported at start is on disk, outside the database.
      const onDisk = JSON.parse(readFileSync(join(t.dataDir, AUDIT_HEAD_FILE), 'utf8')) as SignedAuditHead;
      expect(await verifyAuditHeadSignature(onDisk, serverKey.publicKey)).toBe(true);
      // Someone with database access rolls the log back below that head: the server keeps the
      // file (the evidence) instead of signing the shorter log over it.
      await t.server.db.query('DELETE FROM audit_log WHERE seq >= $1', [onDisk.seq]);
      await t.server.close(); // exports a last head on the way out
      expect(JSON.parse(readFileSync(join(t.dataDir, AUDIT_HEAD_FILE), 'utf8'))).toEqual(onDisk);
    } finally {
      await t.cleanup();
    }
  });
});
