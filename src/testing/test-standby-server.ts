/**
 * A federated server process for the round client's kill-and-restart test: it loads all its code,
 * prints `standby`, and opens storage and listens on PORT only after a line on stdin — so the
 * restart after a SIGKILL costs opening storage, not loading and compiling the code (as
 * federated-server/src/testing/standby-server.ts, but on a fixed port the client already knows).
 */
import { createInterface } from 'node:readline';
import { startServer } from '../../federated-server/src/main.ts';

console.log('standby');
createInterface({ input: process.stdin }).once('line', () => {
  void startServer(Number(process.env['PORT'])).then(({ url }) =>
    console.log(`Dure federated server: ${url}`),
  );
});
