/**
 * `npm run server`: the federated server alone. Honours PORT (default 8787), HOST (default
 * 127.0.0.1), DURE_DATA_DIR (default .dure-data), DATABASE_URL, DURE_ADMIN_TOKEN,
 * DURE_CORS_ORIGINS (comma-separated), DURE_RATE_LIMIT (per minute) and DURE_TICK_MS.
 */
import { resolve } from 'node:path';
import { buildServer } from './app.ts';

export interface StartedServer {
  url: string;
  close: () => Promise<void>;
}

export async function startServer(
  port: number,
  host = process.env['HOST'] ?? '127.0.0.1',
): Promise<StartedServer> {
  const env = process.env;
  const server = await buildServer({
    dataDir: resolve(env['DURE_DATA_DIR'] ?? '.dure-data'),
    databaseUrl: env['DATABASE_URL'] || undefined,
    adminToken: env['DURE_ADMIN_TOKEN'] || undefined,
    logger: env['DURE_LOG'] !== 'off',
    ...(env['DURE_CORS_ORIGINS']
      ? { corsOrigins: env['DURE_CORS_ORIGINS'].split(',').map((s) => s.trim()) }
      : {}),
    ...(env['DURE_RATE_LIMIT'] ? { rateLimitPerMinute: Number(env['DURE_RATE_LIMIT']) } : {}),
    ...(env['DURE_TICK_MS'] ? { tickMs: Number(env['DURE_TICK_MS']) } : {}),
  });
  await server.app.listen({ port, host });
  const addr = server.app.server.address();
  const realPort = addr && typeof addr === 'object' ? addr.port : port;
  const url = `http://${host === '127.0.0.1' ? 'localhost' : host}:${realPort}`;
  if (server.generatedAdminToken) {
    console.log('');
    console.log('  관리자 토큰 / Admin token (shown once, stored hashed — keep it safe):');
    console.log(`  ${server.generatedAdminToken}`);
    console.log('');
  }
  return { url, close: () => server.close() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { url, close } = await startServer(Number(process.env['PORT'] ?? 8787));
  console.log(
    `Dure federated server: ${url}  (health: ${url}/healthz, dashboard: ${url}/admin, API: ${url}/openapi.json)`,
  );
  const stop = () => void close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
