import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, canonicalJson, verifyAuditChain } from './audit.ts';
import { main } from './cli.ts';
import { openDatabase, type Database } from './storage/db.ts';
import { migrate } from './storage/migrations.ts';
import { freshDataDir } from './testing/harness.ts';

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
