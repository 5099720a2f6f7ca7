/**
 * Round events across replicas. The coordinator emits `round` events in the process that made
 * the transition; institutions' event streams may be held by any replica. On PostgreSQL each
 * process publishes its own events with NOTIFY and re-emits the others' it hears on a LISTEN
 * connection, so a stream on a follower sees the leader's `aggregating`/`closed`/`open` too.
 * A lost LISTEN connection is reopened; events missed meanwhile are not replayed (clients also
 * poll `/work`, which is the source of truth).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Coordinator, RoundEvent } from './coordinator.ts';
import type { Database } from './storage/db.ts';

const CHANNEL = 'dure_round_events';

/** Starts relaying; returns a stop function. */
export async function relayRoundEvents(
  databaseUrl: string,
  db: Database,
  coordinator: Coordinator,
  retryMs = 2000,
): Promise<() => Promise<void>> {
  const origin = randomBytes(8).toString('hex');
  let relaying = false;
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;

  const publish = (e: RoundEvent) => {
    if (relaying) return; // heard from another replica: not ours to publish again
    void db
      .query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ origin, ...e })])
      .catch(() => undefined);
  };
  coordinator.on('round', publish);

  const connect = async () => {
    if (stopped) return;
    const c = new pg.Client({
      connectionString: databaseUrl,
      application_name: `dure-events-${process.pid}`,
    });
    const retry = () => {
      if (client !== c) return;
      client = undefined;
      void c.end().catch(() => undefined);
      if (!stopped) timer = setTimeout(() => void connect(), retryMs);
    };
    c.on('error', retry);
    c.on('end', retry);
    c.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      const { origin: from, ...event } = JSON.parse(n.payload) as RoundEvent & { origin: string };
      if (from === origin) return;
      relaying = true;
      try {
        coordinator.emit('round', event);
      } finally {
        relaying = false;
      }
    });
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch {
      retry();
    }
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    coordinator.off('round', publish);
    const c = client;
    client = undefined;
    await c?.end().catch(() => undefined);
  };
}
