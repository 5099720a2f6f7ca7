/**
 * Real server processes for tests that kill them: each is spawned on standby (code loaded,
 * waiting for a line on stdin; ./standby-server.ts), so promoting one after a SIGKILL costs only
 * opening storage and listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { TEST_ADMIN_TOKEN } from './harness.ts';

const STANDBY = resolve(import.meta.dirname, 'standby-server.ts');

/** A server process with its code loaded, waiting for `go`. */
export interface Standby {
  child: ChildProcess;
  loaded: Promise<void>;
  listening: Promise<string>;
}

/**
 * Spawns a standby server on `dataDir` (round timer every 40 ms, limits out of the way);
 * `env` adds or overrides variables (DATABASE_URL for replicas). `onExit` sees stderr on exit.
 */
export function spawnStandby(
  dataDir: string,
  env: NodeJS.ProcessEnv = {},
  onExit?: (code: number | null, stderr: string) => void,
): Standby {
  const child = spawn(process.execPath, ['--import', 'tsx', STANDBY], {
    env: {
      ...process.env,
      DURE_DATA_DIR: dataDir,
      DURE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      DURE_LOG: 'off',
      DURE_TICK_MS: '40',
      DURE_RATE_LIMIT: '1000000',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.on('exit', (code) => onExit?.(code, err));
  const wait = (re: RegExp) =>
    new Promise<RegExpExecArray>((res, rej) => {
      const check = () => {
        const m = re.exec(out);
        if (m) res(m);
      };
      child.stdout!.on('data', check);
      child.on('exit', (code, signal) => rej(new Error(`server exited (${code ?? signal}): ${err}`)));
      check();
    });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const loaded = wait(/^standby$/m).then(() => undefined);
  const listening = wait(/Dure federated server: (http:\/\/\S+)/).then((m) => m[1]!);
  // A standby killed at the end of a test never listens; only a promoted one is awaited.
  loaded.catch(() => undefined);
  listening.catch(() => undefined);
  return { child, loaded, listening };
}

/** Tells a standby to open storage and listen; resolves to its URL. */
export async function goLive(standby: Standby): Promise<string> {
  await standby.loaded;
  standby.child.stdin!.write('go\n');
  return standby.listening;
}
