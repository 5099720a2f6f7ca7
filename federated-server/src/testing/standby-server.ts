/**
 * A server process that loads all its code, then waits for a line on stdin before opening the
 * data directory and listening. The crash-safety test keeps one on standby so a restart after
 * SIGKILL costs only opening storage, not loading and compiling the code again.
 */
import { createInterface } from 'node:readline';
import { startServer } from '../main.ts';

console.log('standby');
const lines = createInterface({ input: process.stdin });
lines.once('line', () => {
  void startServer(0).then(({ url }) => console.log(`Dure federated server: ${url}`));
});
