/**
 * The server's environment, read and checked once at start. A value that does not parse refuses
 * the start with a message naming the variable, instead of quietly becoming NaN (a NaN tick
 * interval used to disable rounds without a word).
 */
import { resolve } from 'node:path';
import type { ServerOptions } from './app.ts';
import { parseBlobKey } from './storage/sealed.ts';
import { readTlsFiles, type TlsMaterial } from './tls.ts';

export interface ServerEnv {
  port: number;
  host: string;
  /** DURE_ALLOW_PLAIN_HTTP=1: a TLS-terminating proxy is in front, plain HTTP off loopback is fine. */
  allowPlainHttp: boolean;
  options: ServerOptions;
}

/** The characters and length the admin (and metrics) token check accepts (see identity.ts). */
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Reads PORT, HOST, DURE_DATA_DIR, DATABASE_URL, DURE_ADMIN_TOKEN, DURE_METRICS_TOKEN, DURE_LOG,
 * DURE_CORS_ORIGINS, DURE_RATE_LIMIT, DURE_AUTH_FAILURE_LIMIT, DURE_TICK_MS,
 * DURE_HEADERS_TIMEOUT_MS, DURE_REQUEST_TIMEOUT_MS, DURE_IDLE_TIMEOUT_MS and
 * DURE_STREAMS_PER_INSTITUTION, DURE_TRUST_PROXY and DURE_BLOB_KEY (32 bytes, base64url: the key
 * sealing blobs at rest; without it one is generated into `<dataDir>/blob-key`, see app.ts) and
 * DURE_DASHBOARD_DIR (the Vite build holding admin.html; default `dist/`), DURE_MODELS_DIR (base models
 * for new tasks; default `public/models`) and DURE_CONSOLE_URL (the institution console's address,
 * shown with enrolment codes), DURE_TLS_CERT and DURE_TLS_KEY (PEM files: serve HTTPS directly),
 * DURE_ALLOW_PLAIN_HTTP (1: plain HTTP off loopback, behind a TLS proxy), DURE_READY_MIN_FREE_MB
 * (free space /readyz requires; default 256), DURE_LEADER_RETRY_MS (replicas on PostgreSQL: how
 * often a follower tries to become leader; default 2000) and DURE_AUDIT_KEY_FILE
 * (the audit head's signing key; default the server key in the data directory). Unset or empty
 * means the default.
 * @throws {Error} listing every invalid variable by name.
 */
export function readServerEnv(env: NodeJS.ProcessEnv, defaults: { port?: number } = {}): ServerEnv {
  const problems: string[] = [];
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const int = (name: string, min: number, max: number, what: string): number | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) {
      problems.push(`${name}=${JSON.stringify(v)}: must be ${what} (an integer from ${min} to ${max})`);
      return undefined;
    }
    return Number(v);
  };
  const token = (name: string): string | undefined => {
    const v = get(name);
    if (v !== undefined && !TOKEN.test(v))
      problems.push(`${name}: must be 16 to 128 characters of A-Z, a-z, 0-9, '_' and '-'`);
    return v;
  };

  const port = int('PORT', 0, 65_535, 'a TCP port') ?? defaults.port ?? 8787;
  const host = get('HOST') ?? '127.0.0.1';
  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl))
    problems.push('DATABASE_URL: must be a postgres:// or postgresql:// URL');
  const log = get('DURE_LOG');
  if (log !== undefined && log !== 'on' && log !== 'off')
    problems.push(`DURE_LOG=${JSON.stringify(log)}: must be "on" or "off"`);
  const corsOrigins = get('DURE_CORS_ORIGINS')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const origin of corsOrigins ?? []) {
    let ok = false;
    try {
      const u = new URL(origin);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === origin;
    } catch {
      ok = false;
    }
    if (!ok)
      problems.push(
        `DURE_CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path or trailing slash)`,
      );
  }
  const tickMs = int('DURE_TICK_MS', 0, 3_600_000, 'milliseconds, 0 to stop the round timer');
  const headersTimeoutMs = int('DURE_HEADERS_TIMEOUT_MS', 100, 600_000, 'milliseconds');
  const requestTimeoutMs = int('DURE_REQUEST_TIMEOUT_MS', 100, 3_600_000, 'milliseconds');
  if (headersTimeoutMs !== undefined && requestTimeoutMs !== undefined && headersTimeoutMs > requestTimeoutMs)
    problems.push('DURE_HEADERS_TIMEOUT_MS: must not exceed DURE_REQUEST_TIMEOUT_MS');
  let blobKey: Uint8Array | undefined;
  const blobKeyText = get('DURE_BLOB_KEY');
  if (blobKeyText !== undefined) {
    try {
      blobKey = parseBlobKey(blobKeyText);
    } catch {
      problems.push('DURE_BLOB_KEY: must be 32 random bytes in base64url (43 characters, no padding)');
    }
  }
  let tls: TlsMaterial | undefined;
  const tlsCert = get('DURE_TLS_CERT');
  const tlsKey = get('DURE_TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    problems.push('DURE_TLS_CERT and DURE_TLS_KEY: set both (PEM certificate and key files) or neither');
  else if (tlsCert !== undefined && tlsKey !== undefined) {
    try {
      tls = readTlsFiles(tlsCert, tlsKey);
    } catch (err) {
      problems.push(`DURE_TLS_CERT/DURE_TLS_KEY: ${(err as Error).message}`);
    }
  }
  const plain = get('DURE_ALLOW_PLAIN_HTTP');
  if (plain !== undefined && plain !== '0' && plain !== '1')
    problems.push(`DURE_ALLOW_PLAIN_HTTP=${JSON.stringify(plain)}: must be 1 or 0`);
  const minFreeMb = int('DURE_READY_MIN_FREE_MB', 0, 100_000_000, 'megabytes /readyz requires free');
  const options: ServerOptions = {
    ...(tls ? { tls } : {}),
    ...(get('DURE_AUDIT_KEY_FILE') ? { auditKeyFile: resolve(get('DURE_AUDIT_KEY_FILE')!) } : {}),
    ...(blobKey ? { blobKey } : {}),
    dataDir: resolve(get('DURE_DATA_DIR') ?? '.dure-data'),
    databaseUrl,
    adminToken: token('DURE_ADMIN_TOKEN'),
    ...(get('DURE_ADMIN_NAME') ? { adminName: get('DURE_ADMIN_NAME')! } : {}),
    metricsToken: token('DURE_METRICS_TOKEN'),
    logger: log !== 'off',
    ...(corsOrigins ? { corsOrigins } : {}),
    rateLimitPerMinute: int('DURE_RATE_LIMIT', 1, 100_000_000, 'requests per minute'),
    authFailureLimit: int('DURE_AUTH_FAILURE_LIMIT', 1, 100_000_000, 'failed authentications per 10 minutes'),
    tickMs,
    leaderRetryMs: int('DURE_LEADER_RETRY_MS', 50, 600_000, 'milliseconds between leadership attempts'),
    headersTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs: int('DURE_IDLE_TIMEOUT_MS', 1000, 3_600_000, 'milliseconds'),
    trustProxy: get('DURE_TRUST_PROXY'),
    streamsPerInstitution: int('DURE_STREAMS_PER_INSTITUTION', 1, 1000, 'a stream count'),
    ...(minFreeMb !== undefined ? { readiness: { minFreeBytes: minFreeMb * 1024 * 1024 } } : {}),
    ...(get('DURE_DASHBOARD_DIR') ? { dashboardDir: resolve(get('DURE_DASHBOARD_DIR')!) } : {}),
    ...(get('DURE_MODELS_DIR') ? { modelsDir: resolve(get('DURE_MODELS_DIR')!) } : {}),
    ...(get('DURE_CONSOLE_URL') ? { consoleUrl: get('DURE_CONSOLE_URL')! } : {}),
  };
  if (problems.length)
    throw new Error(
      `서버 설정 오류 / invalid server configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  return { port, host, allowPlainHttp: plain === '1', options };
}
