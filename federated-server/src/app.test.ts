import { describe, expect, it } from 'vitest';
import { buildServer } from './app.ts';

describe('federated server', () => {
  it('answers /healthz', async () => {
    const app = buildServer();
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', service: 'dure-federated-server' });
    await app.close();
  });
  it('404s unknown routes', async () => {
    const app = buildServer();
    expect((await app.inject({ method: 'GET', url: '/nope' })).statusCode).toBe(404);
    await app.close();
  });
});
