/**
 * Test databases for both storage backends, reused by every server test.
 *
 * - PGlite: its first open runs initdb (~6 s), so one template data directory is created once
 *   under node_modules/.cache/dure/ and copied (~0.1 s) per test.
 * - PostgreSQL: Debian's package (`apt-get install -y postgresql`), started on loopback in a
 *   temp directory. As root the server must run as the `postgres` user (it refuses root), so
 *   the directory is handed to that user and the binaries run through `runuser`. Failing to
 *   start throws: tests never skip silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  chownSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { openDatabase } from '../storage/db.ts';
import { MIGRATIONS, migrate } from '../storage/migrations.ts';

const CACHE = resolve(import.meta.dirname, '../../../node_modules/.cache/dure');
const TEMPLATE = join(CACHE, 'pglite-template-v1');

/**
 * A fresh PGlite data directory (copied from a cached template). With `migrated`, the template
 * already holds the current schema (keyed by a hash of the migrations), saving ~2 s per server.
 * Caller removes it.
 */
export async function freshPgliteDir(opts: { migrated?: boolean } = {}): Promise<string> {
  await ensureTemplate();
  let source = TEMPLATE;
  if (opts.migrated) {
    const key = createHash('sha256').update(JSON.stringify(MIGRATIONS)).digest('hex').slice(0, 12);
    source = join(CACHE, `pglite-migrated-${key}`);
    if (!existsSync(source)) {
      const building = mkdtempSync(join(CACHE, 'pglite-building-'));
      cpSync(TEMPLATE, building, { recursive: true });
      const db = await openDatabase({ pgliteDir: building });
      await migrate(db);
      await db.close();
      publish(building, source);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'dure-pglite-'));
  cpSync(source, dir, { recursive: true });
  return dir;
}

function publish(building: string, target: string): void {
  try {
    renameSync(building, target);
  } catch {
    // Another test process won the race; its copy is just as good.
    rmSync(building, { recursive: true, force: true });
  }
}

async function ensureTemplate(): Promise<void> {
  if (!existsSync(TEMPLATE)) {
    mkdirSync(CACHE, { recursive: true });
    const building = mkdtempSync(join(CACHE, 'pglite-building-'));
    const db = new PGlite(building);
    await db.waitReady;
    await db.close();
    publish(building, TEMPLATE);
  }
}

/** A temp directory for blobs and the like. */
export function tempDir(prefix = 'dure-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface PostgresInstance {
  url: string;
  stop(): void;
}

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'pg_ctl'))) return join(root, v, 'bin');
  throw new Error(
    'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl). Install it with `apt-get install -y postgresql`.',
  );
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

/**
 * Starts a throw-away PostgreSQL on 127.0.0.1 and returns its URL.
 * @throws {Error} with PostgreSQL's own output if it cannot be initialised or started.
 */
export async function startPostgres(): Promise<PostgresInstance> {
  const bin = postgresBin();
  const isRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'dure-pg-'));
  const data = join(dir, 'data');
  const as = (cmd: string, args: string[]) =>
    isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) => {
    const [c, a] = as(join(bin, cmd), args) as [string, string[]];
    const r = spawnSync(c, a, { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) {
      throw new Error(
        `PostgreSQL ${cmd} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout || r.error?.message}`,
      );
    }
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'dure', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  run('pg_ctl', [
    '-D',
    data,
    '-w',
    '-t',
    '60',
    '-l',
    join(dir, 'log'),
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    'start',
  ]);
  return {
    url: `postgres://dure@127.0.0.1:${port}/postgres`,
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
