/**
 * `npm run server`: the federated server alone. Honours PORT (default 8787), HOST (default
 * 127.0.0.1), DURE_DATA_DIR (default .dure-data), DATABASE_URL, DURE_ADMIN_TOKEN,
 * DURE_METRICS_TOKEN, DURE_CORS_ORIGINS (comma-separated), DURE_RATE_LIMIT (per minute),
 * DURE_TICK_MS and the rest listed in ./config.ts, which checks them all before anything starts.
 */
import { buildServer } from './app.ts';
import { readServerEnv } from './config.ts';
import { checkTransport } from './tls.ts';

export interface StartedServer {
  url: string;
  close: () => Promise<void>;
}

/**
 * Checks the environment and the transport, builds the server and listens.
 * @throws {ServerStartError} PLAIN_HTTP_REFUSED before anything opens, when asked to serve plain
 * HTTP on a non-loopback address without DURE_ALLOW_PLAIN_HTTP=1 (./tls.ts).
 */
export async function startServer(
  port: number,
  host = process.env['HOST'] ?? '127.0.0.1',
  env: NodeJS.ProcessEnv = process.env,
): Promise<StartedServer> {
  const { options, allowPlainHttp } = readServerEnv(env); // throws, naming the variable, before anything opens
  const warning = checkTransport(host, { tls: options.tls !== undefined, allowPlainHttp });
  if (warning) console.warn(warning);
  const server = await buildServer(options);
  await server.app.listen({ port, host });
  const addr = server.app.server.address();
  const realPort = addr && typeof addr === 'object' ? addr.port : port;
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://${host === '127.0.0.1' ? 'localhost' : host.includes(':') ? `[${host}]` : host}:${realPort}`;
  if (server.adminTokenFile) {
    // The path only: stdout usually ends up in logs, and a token in a log is a leaked token.
    console.log('');
    console.log(
      '  관리자 토큰을 만들어 파일에 저장했습니다 / Admin token generated and written to (mode 0600):',
    );
    console.log(`  ${server.adminTokenFile}`);
    console.log(
      '  읽은 뒤 안전한 곳에 옮기고 파일을 지우세요 / read it, keep it safe, then delete the file.',
    );
    console.log('');
  }
  return { url, close: () => server.close() };
}

// Run as this file only: bundled (`npm run pack:offline`) every module shares the bundle's URL.
if (import.meta.url === `file://${process.argv[1]}` && import.meta.url.endsWith('/main.ts')) {
  let started: StartedServer;
  try {
    started = await startServer(readServerEnv(process.env).port);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
  const { url, close } = started;
  console.log(
    `Dure federated server: ${url}  (health: ${url}/healthz, dashboard: ${url}/admin, API: ${url}/openapi.json)`,
  );
  const stop = () => void close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
