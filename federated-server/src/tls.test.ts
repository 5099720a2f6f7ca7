import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readServerEnv } from './config.ts';
import { ServerStartError } from './errors.ts';
import { startServer } from './main.ts';
import { tempDir } from './testing/databases.ts';
import { freshDataDir } from './testing/harness.ts';
import { checkTransport, isLoopbackHost, PLAIN_HTTP_WARNING } from './tls.ts';

// A self-signed certificate whose key is in the repository: for this test only (see fixtures/README.md).
const FIXTURES = resolve(import.meta.dirname, 'testing/fixtures');
const CERT_FILE = join(FIXTURES, 'test-only-tls-cert.pem');
const KEY_FILE = join(FIXTURES, 'test-only-tls-key.pem');
const CERT = readFileSync(CERT_FILE, 'utf8');

/** GET over HTTPS trusting only the test certificate; resolves with status, body and the peer's certificate. */
function httpsGet(url: string): Promise<{ status: number; body: string; fingerprint256: string }> {
  return new Promise((res, rej) => {
    const req = request(url, { ca: CERT }, (r) => {
      const fingerprint256 = (r.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body, fingerprint256 }));
    });
    req.on('error', rej);
    req.end();
  });
}

const baseEnv = (dataDir: string): NodeJS.ProcessEnv => ({
  DURE_DATA_DIR: dataDir,
  DURE_LOG: 'off',
  DURE_TICK_MS: '0',
  DURE_ADMIN_TOKEN: 'tls-test-admin-token-0123456789',
});

describe('TLS and the plain-HTTP rule', () => {
  const dirs: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('serves HTTPS with the configured certificate', async () => {
    const dataDir = await freshDataDir();
    dirs.push(dataDir);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const env = { ...baseEnv(dataDir), DURE_TLS_CERT: CERT_FILE, DURE_TLS_KEY: KEY_FILE };
    const started = await startServer(0, '127.0.0.1', env);
    try {
      expect(started.url).toMatch(/^https:\/\/localhost:\d+$/);
      const r = await httpsGet(`${started.url}/healthz`);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ status: 'ok' });
      expect(r.fingerprint256).toBe(new X509Certificate(CERT).fingerprint256);
      expect(warn).not.toHaveBeenCalled(); // TLS: nothing to warn about
      // Plain HTTP to the TLS port gets no answer from the API.
      const plain = await fetch(started.url.replace('https:', 'http:') + '/healthz').catch(() => undefined);
      expect(plain?.ok ?? false).toBe(false);
    } finally {
      await started.close();
    }
  });

  it('refuses plain HTTP on a non-loopback address before opening anything', async () => {
    const parent = tempDir();
    dirs.push(parent);
    const dataDir = join(parent, 'never-created');
    const err = await startServer(0, '0.0.0.0', baseEnv(dataDir)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerStartError);
    expect((err as ServerStartError).code).toBe('PLAIN_HTTP_REFUSED');
    expect((err as Error).message).toMatch(/DURE_ALLOW_PLAIN_HTTP=1/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('allows plain HTTP off loopback only when the operator says a TLS proxy is in front', () => {
    expect(() => checkTransport('10.0.0.5', { tls: false, allowPlainHttp: false })).toThrow(ServerStartError);
    expect(() => checkTransport('::', { tls: false, allowPlainHttp: false })).toThrow(ServerStartError);
    expect(checkTransport('10.0.0.5', { tls: false, allowPlainHttp: true })).toBeUndefined();
    expect(checkTransport('0.0.0.0', { tls: true, allowPlainHttp: false })).toBeUndefined();
    expect(checkTransport('::1', { tls: false, allowPlainHttp: false })).toBe(PLAIN_HTTP_WARNING);
    expect(PLAIN_HTTP_WARNING).toMatch(/평문 HTTP.*plain HTTP/); // startServer logging it: abuse.test.ts
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.0.1', 'example.org', '128.0.0.1'].some(isLoopbackHost)).toBe(false);
    expect(readServerEnv({ DURE_ALLOW_PLAIN_HTTP: '1' }).allowPlainHttp).toBe(true);
  });

  it('refuses half or unreadable TLS settings, naming the variables', () => {
    expect(() => readServerEnv({ DURE_TLS_CERT: CERT_FILE })).toThrow(/set both/);
    expect(() => readServerEnv({ DURE_TLS_CERT: CERT_FILE, DURE_TLS_KEY: '/nonexistent/key.pem' })).toThrow(
      /DURE_TLS_CERT\/DURE_TLS_KEY: cannot read the TLS private key/,
    );
    expect(() => readServerEnv({ DURE_TLS_CERT: KEY_FILE, DURE_TLS_KEY: KEY_FILE })).toThrow(
      /not a PEM certificate/,
    );
    expect(() => readServerEnv({ DURE_ALLOW_PLAIN_HTTP: 'yes' })).toThrow(/DURE_ALLOW_PLAIN_HTTP/);
  });
});
