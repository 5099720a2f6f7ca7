/**
 * Abuse defences, each test a regression of something found trying the server as an attacker:
 * budgets an attacker could reset, failed authentications never counted, bodies buffered before
 * they were refused, sockets held open forever, unbounded event streams, missing headers, public
 * metrics, unvalidated configuration and a printed admin token.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateInstitutionKeyPair, signRequest } from '../../src/protocol/signing.ts';
import type { Task } from '../../src/protocol/schemas.ts';
import {
  freshDataDir,
  startTestServer,
  tinyTask,
  TEST_ADMIN_TOKEN,
  TEST_METRICS_TOKEN,
  type TestServer,
} from './testing/harness.ts';
import { ADMIN_TOKEN_FILE, type ServerOptions } from './app.ts';
import { readServerEnv } from './config.ts';
import { startServer } from './main.ts';
import { PLAIN_HTTP_WARNING } from './tls.ts';

let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.cleanup()));
  servers = [];
});

async function server(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const t = await startTestServer({ options });
  servers.push(t);
  return t;
}

/** Listens on a loopback port; returns it. */
async function listen(t: TestServer): Promise<number> {
  await t.server.app.listen({ port: 0, host: '127.0.0.1' });
  return (t.server.app.server.address() as { port: number }).port;
}

const inject = (
  t: TestServer,
  url: string,
  headers: Record<string, string> = {},
  remoteAddress = '127.0.0.1',
) => t.server.app.inject({ method: 'GET', url, headers, remoteAddress });

/** Writes raw bytes to a loopback port; resolves with what came back and when the socket closed. */
function rawExchange(
  port: number,
  write: (socket: ReturnType<typeof connect>) => void,
): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('connect', () => write(socket));
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined); // a reset counts as closed
    socket.on('close', () => resolve({ text, closedAfterMs: Date.now() - started }));
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`socket still open after 10 s; received: ${text.slice(0, 200)}`));
    }, 10_000);
  });
}

describe('rate limits and failed authentications', () => {
  it('keys the pre-auth budget by client IP: rotating x-dure-institution gives no fresh budget', async () => {
    const t = await server({ rateLimitPerMinute: 20 });
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      const r = await inject(t, '/v1/tasks', { 'x-dure-institution': `inst_rotated_${i}` });
      statuses.push(r.statusCode);
      if (r.statusCode === 429) expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429, 429, 429, 429]);
    // another address still has its own budget
    expect((await inject(t, '/healthz', {}, '10.0.0.2')).statusCode).toBe(200);
  });

  it('ignores X-Forwarded-For unless the proxy is trusted', async () => {
    const direct = await server({ rateLimitPerMinute: 3 });
    const viaXff = async (t: TestServer, i: number) =>
      (await inject(t, '/healthz', { 'x-forwarded-for': `203.0.113.${i}` })).statusCode;
    const rotated = [];
    for (let i = 0; i < 5; i++) rotated.push(await viaXff(direct, i));
    expect(rotated).toEqual([200, 200, 200, 429, 429]);
    const proxied = await server({ rateLimitPerMinute: 3, trustProxy: '127.0.0.1' });
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await viaXff(proxied, i)); // five clients behind the proxy
    expect(clients).toEqual([200, 200, 200, 200, 200]);
  });

  it('counts failed admin authentications: 25 wrong tokens at limit 20 meet 429', async () => {
    const t = await server({ rateLimitPerMinute: 20 });
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++)
      statuses.push(
        (await inject(t, '/v1/admin/tasks', { authorization: `Bearer wrong-token-${i}-0123456789` }))
          .statusCode,
      );
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20)).toEqual([429, 429, 429, 429, 429]);
  });

  it('locks an address out after N failed authentications, even with the right token', async () => {
    const t = await server({ authFailureLimit: 5, authFailureWindowMs: 60_000 });
    for (let i = 0; i < 5; i++)
      expect(
        (await inject(t, '/v1/admin/tasks', { authorization: `Bearer wrong-token-${i}-0123456789` }))
          .statusCode,
      ).toBe(401);
    const locked = await inject(t, '/v1/admin/tasks', { authorization: `Bearer ${TEST_ADMIN_TOKEN}` });
    expect(locked.statusCode).toBe(429);
    expect(locked.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(50);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(60);
    // guessing enrolment codes is locked too; public routes and other addresses are not
    const enrol = await t.server.app.inject({
      method: 'POST',
      url: '/v1/enroll',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ code: 'x'.repeat(32), publicKey: 'y'.repeat(43) }),
    });
    expect(enrol.statusCode).toBe(429);
    expect((await inject(t, '/healthz')).statusCode).toBe(200);
    expect(
      (await inject(t, '/v1/admin/tasks', { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, '10.0.0.9'))
        .statusCode,
    ).toBe(200);
  });

  it('budgets a verified institution across addresses', async () => {
    const t = await server({ rateLimitPerMinute: 8 });
    const inst = await t.enroll('서울시청'); // the admin's and enrolment's requests use 127.0.0.1
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push(
        (await inject(t, '/v1/tasks', await inst.signedHeaders('GET', '/v1/tasks'), `10.1.0.${i}`))
          .statusCode,
      );
    expect(statuses.slice(0, 8).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(8)).toEqual([429, 429]);
  });

  it('answers unknown, revoked and forged signatures with one identical 401', async () => {
    const t = await server();
    const task = await t.admin.call<Task>('POST', '/v1/admin/tasks', tinyTask());
    const url = `/v1/tasks/${task.id}/work`;
    const revoked = await t.enroll('취소될 기관');
    const active = await t.enroll('정상 기관');
    await t.admin.call('POST', `/v1/admin/institutions/${revoked.id}/revoke`, { reason: 'test' });
    const stranger = await generateInstitutionKeyPair();
    const answers = await Promise.all([
      inject(t, url, await signRequest(stranger.privateKey, 'inst_doesnotexist', 'GET', url)),
      inject(t, url, await revoked.signedHeaders('GET', url)),
      inject(t, url, await signRequest(stranger.privateKey, active.id, 'GET', url)),
    ]);
    for (const a of answers) {
      expect(a.statusCode).toBe(401);
      expect(a.body).toBe(answers[0]!.body);
    }
    expect(answers[0]!.json()).toEqual({
      error: { code: 'BAD_SIGNATURE', message: 'request signature not accepted' },
    });
  });
});

describe('body limits and parsers', () => {
  it('refuses a text/plain update with 415 without reading its (1 GiB) body', async () => {
    const t = await server();
    const task = await t.admin.call<Task>('POST', '/v1/admin/tasks', tinyTask());
    await t.admin.call('POST', `/v1/admin/tasks/${task.id}/start`);
    const inst = await t.enroll('기관');
    const port = await listen(t);
    const url = `/v1/tasks/${task.id}/rounds/1/updates`;
    const signed = await inst.signedHeaders('POST', url, 'x'.repeat(16));
    const head =
      `POST ${url} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: text/plain\r\n` +
      `content-length: ${1024 ** 3}\r\nconnection: close\r\n` +
      Object.entries(signed)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('') +
      '\r\n';
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(head + 'x'.repeat(16)));
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes('\r\n\r\n') && text.includes('}')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 415 /);
    expect(answer).toContain('UNSUPPORTED_MEDIA_TYPE');
    expect(Date.now() - started).toBeLessThan(5000); // answered without waiting for the body
  });

  it('accepts only JSON and octet-stream bodies, each where it belongs', async () => {
    const t = await server();
    const post = (url: string, type: string, payload: string) =>
      t.server.app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload });
    const plain = await post('/v1/enroll', 'text/plain', 'hello');
    expect([plain.statusCode, plain.json<{ error: { code: string } }>().error.code]).toEqual([
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ]);
    expect((await post('/v1/enroll', 'application/x-www-form-urlencoded', 'a=1')).statusCode).toBe(415);
    const big = await post(
      '/v1/enroll',
      'application/json',
      JSON.stringify({ code: 'x'.repeat(2 * 1024 * 1024) }),
    );
    expect(big.statusCode).toBe(413);
  });
});

describe('timeouts', () => {
  it('closes a slow socket that never finishes its headers within the configured bound', async () => {
    const t = await server({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    const port = await listen(t);
    const { text, closedAfterMs } = await rawExchange(port, (socket) => {
      socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n');
      let i = 0;
      const drip = setInterval(() => {
        if (socket.destroyed) clearInterval(drip);
        else socket.write(i++ === 0 ? 'x-slow: ' : 'a'); // one byte at a time, never \r\n\r\n
      }, 100);
      socket.on('close', () => clearInterval(drip));
    });
    expect(closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(closedAfterMs).toBeLessThan(3000);
    expect(text === '' || /^HTTP\/1\.1 408 /.test(text)).toBe(true);
  });

  it('closes a silent connection after the idle bound', async () => {
    const t = await server({ idleTimeoutMs: 500, headersTimeoutMs: 10_000 });
    const port = await listen(t);
    const { closedAfterMs } = await rawExchange(port, () => undefined);
    expect(closedAfterMs).toBeLessThan(3000);
  });
});

describe('event streams', () => {
  it('caps open streams per institution and ends them when the institution is revoked', async () => {
    const t = await server({ streamsPerInstitution: 2 });
    const task = await t.admin.call<Task>('POST', '/v1/admin/tasks', tinyTask());
    const a = await t.enroll('A 기관');
    const b = await t.enroll('B 기관');
    await t.addMembers(task.id, [a, b]); // only members may subscribe
    const port = await listen(t);
    const url = `/v1/tasks/${task.id}/events`;
    const open = async (inst: typeof a) =>
      fetch(`http://127.0.0.1:${port}${url}`, { headers: await inst.signedHeaders('GET', url) });
    const first = await open(a);
    const second = await open(a);
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await open(a);
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');
    const other = await open(b); // another institution has its own allowance
    expect(other.status).toBe(200);

    // closing one frees its place
    await first.body!.cancel();
    await expect
      .poll(async () => {
        const r = await open(a);
        if (r.status === 200) await r.body!.cancel();
        return r.status;
      })
      .toBe(200);

    const drain = async (res: Response) => {
      const reader = res.body!.getReader();
      while (!(await reader.read()).done);
      return 'ended';
    };
    const ended = drain(second);
    await t.admin.call('POST', `/v1/admin/institutions/${a.id}/revoke`, { reason: 'test' });
    expect(await ended).toBe('ended');
    expect((await open(a)).status).toBe(401);
    await other.body!.cancel();
  });
});

describe('security headers and CORS', () => {
  const DEV_ORIGIN = 'http://localhost:5173';
  const preflight = (t: TestServer, url: string, origin = DEV_ORIGIN) =>
    t.server.app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin, 'access-control-request-method': 'GET' },
    });

  it('sends security headers on every answer and a strict CSP on /admin', async () => {
    const dashboardDir = mkdtempSync(join(tmpdir(), 'dure-dash-'));
    writeFileSync(join(dashboardDir, 'admin.html'), '<!doctype html><title>admin</title>');
    const t = await server({ dashboardDir });
    t.server.app.addHook('onClose', async () => rmSync(dashboardDir, { recursive: true, force: true }));
    for (const r of [
      await inject(t, '/healthz'),
      await inject(t, '/v1/admin/tasks'), // a 401
      await inject(t, '/nope'), // a 404
      await inject(t, '/openapi.json'),
    ]) {
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['content-security-policy']).toContain("default-src 'none'");
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['x-frame-options']).toBeDefined();
      expect(r.headers['referrer-policy']).toBe('no-referrer');
    }
    const page = await inject(t, '/admin');
    expect(page.statusCode).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).not.toContain('upgrade-insecure-requests'); // the dashboard is served over http on loopback
  });

  it('allows CORS only on public adapter, enrolment and institution routes', async () => {
    const t = await server();
    const allowed = async (url: string) => (await preflight(t, url)).headers['access-control-allow-origin'];
    expect(await allowed('/v1/public/tasks/task_x/adapters/latest')).toBe(DEV_ORIGIN);
    expect(await allowed('/v1/enroll')).toBe(DEV_ORIGIN);
    expect(await allowed('/v1/tasks/task_x/work')).toBe(DEV_ORIGIN);
    for (const url of ['/v1/admin/tasks', '/v1/admin/institutions', '/metrics', '/admin', '/healthz'])
      expect(await allowed(url), url).toBeUndefined();
    const adminGet = await inject(t, '/v1/admin/tasks', {
      origin: DEV_ORIGIN,
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
    });
    expect(adminGet.statusCode).toBe(200);
    expect(adminGet.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('has no default localhost origins in production', async () => {
    const prod = await server({ production: true });
    expect((await preflight(prod, '/v1/tasks')).headers['access-control-allow-origin']).toBeUndefined();
    vi.stubEnv('NODE_ENV', 'production');
    try {
      const byEnv = await server();
      expect((await preflight(byEnv, '/v1/tasks')).headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      vi.unstubAllEnvs();
    }
    const configured = await server({ production: true, corsOrigins: ['https://console.example.kr'] });
    expect(
      (await preflight(configured, '/v1/tasks', 'https://console.example.kr')).headers[
        'access-control-allow-origin'
      ],
    ).toBe('https://console.example.kr');
  });
});

describe('metrics, configuration and the admin token', () => {
  it('serves /metrics only with the metrics token, and not at all without one configured', async () => {
    const t = await server();
    expect((await inject(t, '/metrics')).statusCode).toBe(401);
    expect(
      (await inject(t, '/metrics', { authorization: 'Bearer wrong-metrics-token-000000' })).statusCode,
    ).toBe(401);
    const ok = await inject(t, '/metrics', { authorization: `Bearer ${TEST_METRICS_TOKEN}` });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toMatch(/^# TYPE dure_updates_accepted_total counter$/m);
    const off = await server({ metricsToken: undefined });
    expect(
      (await inject(off, '/metrics', { authorization: `Bearer ${TEST_METRICS_TOKEN}` })).statusCode,
    ).toBe(404);
  });

  it('refuses bad configuration values, naming each variable', () => {
    expect(() => readServerEnv({ DURE_TICK_MS: 'abc' })).toThrow(/DURE_TICK_MS="abc"/);
    const bad = {
      PORT: 'http',
      DURE_RATE_LIMIT: '-5',
      DURE_AUTH_FAILURE_LIMIT: '1e3',
      DURE_CORS_ORIGINS: 'https://console.example.kr/',
      DURE_ADMIN_TOKEN: 'short',
      DURE_METRICS_TOKEN: 'has spaces in it, 0123456789',
      DURE_LOG: 'verbose',
      DATABASE_URL: 'mysql://x',
      DURE_HEADERS_TIMEOUT_MS: '5000',
      DURE_REQUEST_TIMEOUT_MS: '1000',
      DURE_IDLE_TIMEOUT_MS: '10s',
      DURE_STREAMS_PER_INSTITUTION: '0',
    };
    let message = '';
    try {
      readServerEnv(bad);
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of Object.keys(bad)) expect(message, name).toContain(name);
    const good = readServerEnv({
      PORT: '9000',
      DURE_TICK_MS: '0',
      DURE_RATE_LIMIT: '600',
      DURE_CORS_ORIGINS: 'https://console.example.kr, http://localhost:5173',
      DURE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      DURE_METRICS_TOKEN: TEST_METRICS_TOKEN,
      DURE_LOG: 'off',
    });
    expect(good.port).toBe(9000);
    expect(good.options).toMatchObject({
      tickMs: 0,
      rateLimitPerMinute: 600,
      corsOrigins: ['https://console.example.kr', 'http://localhost:5173'],
      logger: false,
    });
  });

  it('refuses to start with DURE_TICK_MS=abc, saying so', async () => {
    const root = resolve(import.meta.dirname, '../..');
    const dataDir = mkdtempSync(join(tmpdir(), 'dure-badenv-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'federated-server/src/main.ts'], {
      cwd: root,
      env: { ...process.env, PORT: '0', DURE_DATA_DIR: dataDir, DURE_LOG: 'off', DURE_TICK_MS: 'abc' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => child.on('exit', res));
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(1);
    expect(err).toMatch(/DURE_TICK_MS="abc": must be/);
    expect(out).not.toMatch(/Dure federated server:/);
  }, 60_000);

  it('writes a generated admin token to a 0600 file and prints only its path', async () => {
    const dataDir = await freshDataDir();
    vi.stubEnv('DURE_DATA_DIR', dataDir);
    vi.stubEnv('DURE_ADMIN_TOKEN', '');
    vi.stubEnv('DURE_LOG', 'off');
    vi.stubEnv('DURE_TICK_MS', '0');
    const logged: string[] = [];
    const log = vi
      .spyOn(console, 'log')
      .mockImplementation((...a: unknown[]) => void logged.push(a.join(' ')));
    const warned: string[] = [];
    const warn = vi
      .spyOn(console, 'warn')
      .mockImplementation((...a: unknown[]) => void warned.push(a.join(' ')));
    try {
      const started = await startServer(0, '127.0.0.1');
      try {
        expect(warned).toEqual([PLAIN_HTTP_WARNING]); // plain HTTP on loopback: warned, in Korean and English
        const file = join(dataDir, ADMIN_TOKEN_FILE);
        expect(statSync(file).mode & 0o777).toBe(0o600);
        const token = readFileSync(file, 'utf8').trim();
        expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(logged.join('\n')).toContain(file);
        expect(logged.join('\n')).not.toContain(token);
        const r = await fetch(`${started.url}/v1/admin/tasks`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(r.status).toBe(200);
      } finally {
        await started.close();
      }
    } finally {
      log.mockRestore();
      warn.mockRestore();
      vi.unstubAllEnvs();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
