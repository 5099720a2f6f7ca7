/**
 * `npx dure-server <command>` — operator commands for the federated server.
 *
 *   dure-server serve                 start the server (same as `npm run server`)
 *   dure-server audit verify [--json] [--head FILE] [--public-key KEY] [--batch N]
 *                                     recompute the audit hash chain, pinned to a signed head;
 *                                     exit 1 if it is broken, rolled back or the head is forged
 *
 * Storage comes from the same environment as the server: DURE_DATA_DIR (default .dure-data)
 * or DATABASE_URL. The signed head defaults to `<dataDir>/audit-head.json`, its key to the public
 * half of DURE_AUDIT_KEY_FILE or the data directory's server key; an auditor should pass the key
 * they noted earlier (`--public-key`), since whoever can write the data directory can replace both.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { verifyAuditChain, type AuditVerification } from './audit.ts';
import { AUDIT_HEAD_FILE, verifyAuditHeadSignature, type SignedAuditHead } from './audit-head.ts';
import { readSigningPublicKey, SERVER_KEY_FILE } from './server-key.ts';
import { openDatabase } from './storage/db.ts';
import { migrate } from './storage/migrations.ts';

const USAGE = `사용법 / usage:
  dure-server serve                   start the federated server (PORT, DURE_DATA_DIR, DATABASE_URL)
  dure-server audit verify [--json] [--head FILE] [--public-key KEY] [--batch N]
                                      verify the audit log's hash chain against its signed head (exit 1 if broken)`;

/** The value after `--name`, if given. */
const flag = (args: string[], name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

/** Runs one command; resolves to the process exit code. */
export async function main(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [cmd, sub, ...rest] = args;
  if (cmd === 'serve') {
    const { startServer } = await import('./main.ts');
    const { readServerEnv } = await import('./config.ts');
    let url: string;
    try {
      ({ url } = await startServer(readServerEnv(env).port));
    } catch (err) {
      console.error(err instanceof Error ? err.message : String(err));
      return 1;
    }
    console.log(`Dure federated server: ${url}`);
    return new Promise<number>(() => undefined); // runs until killed
  }
  if (cmd === 'audit' && sub === 'verify') {
    const dataDir = resolve(env['DURE_DATA_DIR'] ?? '.dure-data');
    const headFile = flag(rest, '--head') ?? join(dataDir, AUDIT_HEAD_FILE);
    const batch = Number(flag(rest, '--batch') ?? 1000);
    const batchSize = Number.isInteger(batch) && batch > 0 ? batch : 1000;
    const head = existsSync(headFile)
      ? (JSON.parse(readFileSync(headFile, 'utf8')) as SignedAuditHead)
      : undefined;
    const publicKey =
      flag(rest, '--public-key') ??
      (await readSigningPublicKey(env['DURE_AUDIT_KEY_FILE'] || join(dataDir, SERVER_KEY_FILE)));
    let result: AuditVerification & { signedHead?: 'verified' | 'absent' };
    if (head && !(publicKey && (await verifyAuditHeadSignature(head, publicKey)))) {
      result = {
        ok: false,
        entries: 0,
        headHash: '',
        batches: 0,
        problem: {
          seq: head.seq,
          reason: `the signed head ${headFile} does not verify with the audit key (forged or another key)`,
        },
      };
    } else {
      const db = await openDatabase({
        databaseUrl: env['DATABASE_URL'] || undefined,
        pgliteDir: join(dataDir, 'pglite'),
      });
      try {
        await migrate(db);
        result = {
          ...(await verifyAuditChain(db, { batchSize, ...(head ? { pinned: head } : {}) })),
          signedHead: head ? 'verified' : 'absent',
        };
      } finally {
        await db.close();
      }
    }
    if (rest.includes('--json')) console.log(JSON.stringify(result));
    else if (result.ok) {
      console.log(`감사 로그 정상 / audit log OK: ${result.entries} entries, head ${result.headHash}`);
      console.log(
        head
          ? `서명된 헤드 확인 / signed head verified: entry ${head.seq} (key ${head.keyId})`
          : '서명된 헤드 없음: 최근 항목 삭제는 확인할 수 없습니다 / no signed head: deleting the newest entries cannot be detected',
      );
    } else {
      console.log(
        `감사 로그 손상 / audit log BROKEN at entry ${result.problem!.seq}: ${result.problem!.reason}`,
      );
    }
    return result.ok ? 0 : 1;
  }
  console.error(USAGE);
  return 2;
}
