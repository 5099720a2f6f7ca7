/**
 * The federated aggregation server as a Fastify instance, built without listening so tests
 * can use `inject` and launchers decide the port.
 */
import Fastify, { type FastifyInstance } from 'fastify';

export interface ServerOptions {
  /** Structured JSON logs; off in tests. */
  logger?: boolean;
}

export const SERVER_VERSION = '0.1.0';

export function buildServer(opts: ServerOptions = {}): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 1024 * 1024 });
  const startedAt = Date.now();
  app.get('/healthz', async () => ({
    status: 'ok',
    service: 'dure-federated-server',
    version: SERVER_VERSION,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
  }));
  return app;
}
