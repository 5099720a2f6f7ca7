import { describe, expect, it } from 'vitest';
import { readServerEnv } from '../federated-server/src/config.ts';
import { startCorsOrigins } from './start-origins.ts';

describe('startCorsOrigins', () => {
  it('allows the web port npm start serves on, whatever it is', () => {
    expect(startCorsOrigins(45173, undefined)).toBe('http://localhost:45173,http://127.0.0.1:45173');
  });

  it("keeps the operator's own origins first and does not repeat one", () => {
    const got = startCorsOrigins(5173, ' https://portal.example.go.kr ,http://localhost:5173');
    expect(got.split(',')).toEqual([
      'https://portal.example.go.kr',
      'http://localhost:5173',
      'http://127.0.0.1:5173',
    ]);
  });

  it("is a value the server's own configuration check accepts", () => {
    const { options } = readServerEnv({ DURE_CORS_ORIGINS: startCorsOrigins(45173, undefined) });
    expect(options.corsOrigins).toContain('http://localhost:45173');
  });
});
