/**
 * Which replica runs round timers and aggregation. On PostgreSQL the leader is whoever holds a
 * session advisory lock on a dedicated connection: when that process dies, PostgreSQL ends its
 * session and frees the lock, and a follower, retrying every few seconds, takes over. Followers
 * serve every route; only the leader ticks. A leader whose connection breaks steps down at once
 * (the lock went with the session); anything it was doing is made safe by the coordinator's
 * conditional transitions, which let a round close or fail only once whoever runs it.
 *
 * The connection's application_name is `dure-leader-<pid>`, so an operator sees the leader with
 *   SELECT application_name FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
 *   WHERE l.locktype = 'advisory' AND l.classid = 1685418597 AND l.objid = 1818583396;
 * PGlite is one process only (its directory is locked), so there it always leads.
 */
import pg from 'pg';

/** The advisory lock key (classid, objid): "dure", "lead" in ASCII. */
const LOCK = [0x64757265, 0x6c656164] as const;

export interface Leadership {
  isLeader(): boolean;
  close(): Promise<void>;
}

/** PGlite: a single process, always the leader. */
export const soleLeader: Leadership = { isLeader: () => true, close: async () => undefined };

export interface ElectionOptions {
  databaseUrl: string;
  /** How often a follower tries to take the lock, and a leader checks its connection. Default 2000 ms. */
  retryMs?: number;
  /** Called when this process becomes leader or stops being one (logs, metrics). */
  onChange?: (leader: boolean) => void;
}

/** Starts competing for leadership; the first try runs before this resolves. */
export async function electLeader(opts: ElectionOptions): Promise<Leadership> {
  const retryMs = opts.retryMs ?? 2000;
  let client: pg.Client | undefined;
  let leader = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const set = (value: boolean) => {
    if (value !== leader) {
      leader = value;
      opts.onChange?.(value);
    }
  };
  const drop = (c: pg.Client) => {
    if (client !== c) return;
    client = undefined;
    set(false); // the lock lived in that session
    void c.end().catch(() => undefined);
  };
  const attempt = async () => {
    try {
      if (!client) {
        const c = new pg.Client({
          connectionString: opts.databaseUrl,
          application_name: `dure-leader-${process.pid}`,
          connectionTimeoutMillis: 10_000,
          // Detect a silently vanished database host instead of believing in a dead lock.
          keepAlive: true,
          keepAliveInitialDelayMillis: 10_000,
        });
        c.on('error', () => drop(c));
        c.on('end', () => drop(c));
        client = c;
        await c.connect();
      }
      const c = client;
      if (leader) {
        await c.query('SELECT 1'); // still connected, so still holding the lock
      } else {
        const [row] = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [...LOCK]))
          .rows;
        if (client === c && !closed) set(row?.ok === true);
      }
    } catch {
      if (client) drop(client);
    }
  };
  const loop = () => {
    void attempt().finally(() => {
      if (!closed) timer = setTimeout(loop, retryMs);
    });
  };
  await attempt();
  if (!closed) timer = setTimeout(loop, retryMs);
  return {
    isLeader: () => leader && !closed,
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      leader = false;
      await c?.end().catch(() => undefined); // ending the session frees the lock for a follower
    },
  };
}
