/** `npm run server`: the federated server alone. Honours PORT (default 8787). */
import { buildServer } from './app.ts';

export async function startServer(
  port: number,
  host = '127.0.0.1',
): Promise<{ url: string; close: () => Promise<void> }> {
  const app = buildServer({ logger: true });
  await app.listen({ port, host });
  return { url: `http://${host === '127.0.0.1' ? 'localhost' : host}:${port}`, close: () => app.close() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await startServer(Number(process.env['PORT'] ?? 8787));
  console.log(`Dure federated server: ${url}  (health: ${url}/healthz)`);
}
