/**
 * Helpers for runs of several server processes on one PostgreSQL (replicas.test.ts and
 * bench/server-load.ts): a fresh database, and which process is the leader.
 */
import pg from 'pg';

/** Creates database `name` on the server at `serverUrl` (…/postgres) and returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return serverUrl.replace(/\/postgres$/, `/${name}`);
}

/**
 * The pid of the process whose connection holds the leader's advisory lock (leader.ts names
 * that connection `dure-leader-<pid>`), or undefined while nobody holds it.
 */
export async function leaderPid(operator: pg.Client): Promise<number | undefined> {
  const { rows } = await operator.query<{ name: string }>(
    `SELECT a.application_name AS name FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
     WHERE l.locktype = 'advisory' AND l.classid = 1685418597 AND l.objid = 1818583396 AND l.granted`,
  );
  const m = /^dure-leader-(\d+)$/.exec(rows[0]?.name ?? '');
  return m ? Number(m[1]) : undefined;
}
