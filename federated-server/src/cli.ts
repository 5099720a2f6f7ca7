/**
 * `npx dure-server <command>` — operator commands for the federated server.
 *
 *   dure-server serve                 start the server (same as `npm run server`)
 *   dure-server audit verify [--json] recompute the audit hash chain; exit 1 if it is broken
 *
 * Storage comes from the same environment as the server: DURE_DATA_DIR (default .dure-data)
 * or DATABASE_URL.
 */
import { join, resolve } from 'node:path';
import { verifyAuditChain } from './audit.ts';
import { openDatabase } from './storage/db.ts';
import { migrate } from './storage/migrations.ts';

const USAGE = `사용법 / usage:
  dure-server serve                   start the federated server (PORT, DURE_DATA_DIR, DATABASE_URL)
  dure-server audit verify [--json]   verify the audit log's hash chain (exit 1 if broken)`;

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
    const db = await openDatabase({
      databaseUrl: env['DATABASE_URL'] || undefined,
      pgliteDir: join(resolve(env['DURE_DATA_DIR'] ?? '.dure-data'), 'pglite'),
    });
    try {
      await migrate(db);
      const result = await verifyAuditChain(db);
      if (rest.includes('--json')) console.log(JSON.stringify(result));
      else if (result.ok) {
        console.log(`감사 로그 정상 / audit log OK: ${result.entries} entries, head ${result.headHash}`);
      } else {
        console.log(
          `감사 로그 손상 / audit log BROKEN at entry ${result.problem!.seq}: ${result.problem!.reason}`,
        );
      }
      return result.ok ? 0 : 1;
    } finally {
      await db.close();
    }
  }
  console.error(USAGE);
  return 2;
}
