/**
 * Where replicas keep uploads: a shared directory (what the server does) or a bytea table in
 * PostgreSQL (the alternative issue #19 allowed). Stores N update-sized blobs each way and reads
 * them back once, reporting wall time and this process's RSS growth. Not part of `npm test`.
 *
 *   npx tsx bench/blob-store.ts [--updates 100] [--mib 4]
 *
 * Needs Debian's PostgreSQL (as the server tests do). Writes bench/results/blob-store.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseCliArgs } from '../src/cli/args.ts';
import pg from 'pg';
import { BlobStore } from '../federated-server/src/storage/blobs.ts';
import { startPostgres, tempDir } from '../federated-server/src/testing/databases.ts';

const { values: args } = parseCliArgs({
  options: { updates: { type: 'string', default: '100' }, mib: { type: 'string', default: '4' } },
});
const N = Number(args.updates);
const BYTES = Math.round(Number(args.mib) * 1024 * 1024);
const payload = new Uint8Array(randomBytes(BYTES));
const mib = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;

async function measure(name: string, fn: () => Promise<void>) {
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const r = {
    name,
    seconds: Math.round(seconds * 100) / 100,
    perUpdateMs: Math.round((seconds / N) * 1e4) / 10,
    rssGrowthMiB: mib(peak - rss0),
  };
  console.log(JSON.stringify(r));
  return r;
}

const dir = tempDir('dure-blob-bench-');
const db = await startPostgres();
const client = new pg.Client({ connectionString: db.url });
try {
  await client.connect();
  await client.query('CREATE TABLE blobs (name text PRIMARY KEY, bytes bytea NOT NULL)');
  const store = await BlobStore.open(dir, new Uint8Array(randomBytes(32)));
  const names: string[] = [];
  const results = [
    await measure('shared directory: seal + fsync + rename', async () => {
      for (let i = 0; i < N; i++) {
        const tmp = store.tempPath();
        writeFileSync(tmp, payload);
        names.push(await store.commitTemp(tmp));
      }
    }),
    await measure('shared directory: read back (authenticated)', async () => {
      for (const n of names) await store.read(n);
    }),
    await measure('PostgreSQL bytea: INSERT', async () => {
      for (let i = 0; i < N; i++)
        await client.query('INSERT INTO blobs VALUES ($1, $2)', [`u${i}`, Buffer.from(payload)]);
    }),
    await measure('PostgreSQL bytea: SELECT back', async () => {
      for (let i = 0; i < N; i++) await client.query('SELECT bytes FROM blobs WHERE name = $1', [`u${i}`]);
    }),
  ];
  const out = resolve(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    resolve(out, 'blob-store.json'),
    JSON.stringify({ updates: N, bytesEach: BYTES, results }, null, 2),
  );
} finally {
  await client.end().catch(() => undefined);
  db.stop();
  rmSync(dir, { recursive: true, force: true });
}
