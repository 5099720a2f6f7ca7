/**
 * One process per PGlite data directory. PGlite is an embedded PostgreSQL with no shared-memory
 * coordination between processes: two servers on one directory both start, write diverging
 * pages, and after a restart acknowledged writes are gone while the audit chain still verifies.
 * So the directory gets a lock file naming its holder (pid, host, a random nonce), created
 * atomically (written to a temp name, then hard-linked into place: `link` fails if it exists).
 *
 * A lock whose holder is dead (SIGKILL, power loss) is stale and taken over: on the same host the
 * pid is probed with signal 0; our own pid is a previous incarnation (containers reuse low pids).
 * A lock from another host cannot be probed and is refused, with the file's path to remove.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ServerStartError } from '../errors.ts';

interface LockContent {
  pid: number;
  host: string;
  nonce: string;
  since: string;
}

/** Locks held by this process: a second open in the same process is refused too. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

async function readLock(file: string): Promise<LockContent | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
}

function inUse(file: string, holder: LockContent | undefined): ServerStartError {
  const who = holder ? `pid ${holder.pid} on ${holder.host} since ${holder.since}` : 'another process';
  return new ServerStartError(
    `이 데이터 폴더는 다른 서버 프로세스(${who})가 쓰고 있습니다. 같은 폴더로 서버를 두 개 실행할 수 없습니다; ` +
      `여러 서버를 함께 운영하려면 PostgreSQL(DATABASE_URL)을 쓰세요. / ` +
      `This data directory is in use by another server process (${who}). Two servers cannot share a PGlite ` +
      `directory; run replicas on PostgreSQL (DATABASE_URL) instead. If that process is gone, remove ${file}.`,
    'DATA_DIR_IN_USE',
  );
}

/**
 * Takes the lock `file` for this process, taking over a stale one.
 * @returns a release function (idempotent).
 * @throws {ServerStartError} DATA_DIR_IN_USE while another live process holds it.
 */
export async function lockDataDir(file: string): Promise<() => Promise<void>> {
  if (held.has(file)) throw inUse(file, { pid: process.pid, host: hostname(), nonce: '', since: 'now' });
  const mine: LockContent = {
    pid: process.pid,
    host: hostname(),
    nonce: randomBytes(12).toString('hex'),
    since: new Date().toISOString(),
  };
  const temp = `${file}.${mine.nonce}.tmp`;
  await writeFile(temp, JSON.stringify(mine), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(temp, file);
        held.add(file);
        let released = false;
        return async () => {
          if (released) return;
          released = true;
          held.delete(file);
          const now = await readLock(file);
          if (now?.nonce === mine.nonce) await rm(file, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readLock(file);
      const stale =
        holder !== undefined &&
        holder.host === mine.host &&
        (holder.pid === process.pid || !alive(holder.pid));
      if (!stale) {
        if (holder === undefined && attempt < 4) {
          await new Promise((r) => setTimeout(r, 50)); // removed between our link and read: look again
          continue;
        }
        throw inUse(file, holder);
      }
      // Move the stale lock aside (only one process can), then check it was the stale one we read
      // and not a fresh lock another process just took; a fresh one is put back.
      const aside = `${file}.${mine.nonce}.stale`;
      try {
        await rename(file, aside);
      } catch {
        continue; // someone else moved it first
      }
      const moved = await readLock(aside);
      if (moved?.nonce !== holder.nonce) {
        await link(aside, file).catch(() => undefined);
        await rm(aside, { force: true });
        throw inUse(file, moved);
      }
      await rm(aside, { force: true });
    }
    throw inUse(file, await readLock(file));
  } finally {
    await rm(temp, { force: true });
  }
}
