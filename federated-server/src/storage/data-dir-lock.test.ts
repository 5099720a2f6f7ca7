/**
 * PGlite is one process per data directory: two servers on one directory used to both start,
 * diverge, and lose acknowledged writes after a restart. A second process is now refused with a
 * clear message, and a lock left by a SIGKILLed process does not block the next start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from './db.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { freshPgliteDir, tempDir } from '../testing/databases.ts';
import { ServerStartError } from '../errors.ts';

const DB_MODULE = resolve(import.meta.dirname, 'db.ts');

/** A real second process that opens the PGlite directory, writes a row, and stays. */
function holder(dir: string): { child: ChildProcess; ready: Promise<string> } {
  const code = `
    const { openDatabase } = await import(${JSON.stringify(DB_MODULE)});
    try {
      const db = await openDatabase({ pgliteDir: ${JSON.stringify(dir)} });
      await db.query('CREATE TABLE IF NOT EXISTS probe (n integer)');
      await db.query('INSERT INTO probe VALUES (1)');
      console.log('opened');
      setInterval(() => undefined, 1000);
    } catch (err) {
      console.log('refused ' + err.code);
      process.exit(3);
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ready = new Promise<string>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^(opened|refused .*)$/m.test(out)) res(out.trim());
    });
    child.on('exit', (c) =>
      setTimeout(() => (out ? res(out.trim()) : rej(new Error(`exit ${c}: ${err}`))), 50),
    );
  });
  return { child, ready };
}

describe('PGlite data directory lock', () => {
  const cleanup: string[] = [];
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  });

  it('refuses a second process with a Korean and English message, and takes over after SIGKILL', async () => {
    const dir = await freshPgliteDir();
    cleanup.push(dir, `${dir}.lock`);
    const first = holder(dir);
    children.push(first.child);
    expect(await first.ready).toBe('opened');

    // This process is the second server on the same directory.
    const err = await openDatabase({ pgliteDir: dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ServerStartError);
    expect((err as ServerStartError).code).toBe('DATA_DIR_IN_USE');
    expect((err as Error).message).toContain(`pid ${first.child.pid}`);
    expect((err as Error).message).toMatch(/다른 서버 프로세스/);
    expect((err as Error).message).toMatch(/DATABASE_URL/);

    // The holder dies without cleaning up: its lock is stale and the next start proceeds.
    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await exited;
    const db = await openDatabase({ pgliteDir: dir });
    try {
      expect(await db.query('SELECT n FROM probe')).toEqual([{ n: 1 }]); // the first process's write
      // And now this process holds it: a second open is the one refused.
      await expect(openDatabase({ pgliteDir: dir })).rejects.toMatchObject({ code: 'DATA_DIR_IN_USE' });
    } finally {
      await db.close();
    }
    // Closing releases the lock.
    const release = await lockDataDir(`${dir}.lock`);
    await release();
  }, 120_000);

  it('refuses a second open in the same process and never steals a live lock', async () => {
    const dir = tempDir('dure-lock-');
    cleanup.push(dir);
    const file = resolve(dir, 'x.lock');
    const release = await lockDataDir(file);
    await expect(lockDataDir(file)).rejects.toMatchObject({ code: 'DATA_DIR_IN_USE' });
    await release();
    await (
      await lockDataDir(file)
    )();
  });
});
