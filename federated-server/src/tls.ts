/**
 * TLS for the server itself, and the rule for running without it. With a certificate and key
 * (PEM files, DURE_TLS_CERT / DURE_TLS_KEY) Fastify serves HTTPS directly. Without them, plain
 * HTTP is allowed on a loopback address (with a warning) and refused on any other address unless
 * the operator says a TLS-terminating proxy is in front (DURE_ALLOW_PLAIN_HTTP=1): admin tokens
 * and institution updates must never cross a network in clear text by accident.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ServerStartError } from './errors.ts';

/** PEM texts of the server certificate (chain) and its private key. */
export interface TlsMaterial {
  cert: string;
  key: string;
}

/**
 * Reads the configured PEM files.
 * @throws {ServerStartError} TLS_FILES when one is missing, unreadable or not PEM.
 */
export function readTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  const read = (file: string, label: RegExp, what: string) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new ServerStartError(
        `cannot read the TLS ${what} ${file}: ${(cause as Error).message}`,
        'TLS_FILES',
        {
          cause,
        },
      );
    }
    if (!label.test(text)) throw new ServerStartError(`${file} is not a PEM ${what}`, 'TLS_FILES');
    return text;
  };
  return {
    cert: read(certFile, /-----BEGIN CERTIFICATE-----/, 'certificate'),
    key: read(keyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'private key'),
  };
}

/** Whether `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

export const PLAIN_HTTP_WARNING =
  '경고: TLS 없이 평문 HTTP로 서비스합니다(이 컴퓨터에서만 접속 가능). 다른 컴퓨터에서 접속하려면 DURE_TLS_CERT/DURE_TLS_KEY를 설정하세요. / ' +
  'Warning: serving plain HTTP without TLS (reachable from this machine only). Set DURE_TLS_CERT/DURE_TLS_KEY before serving other machines.';

/**
 * Decides whether the server may start on `host` and what to tell the operator.
 * @returns a warning to log, or undefined when nothing needs saying.
 * @throws {ServerStartError} PLAIN_HTTP_REFUSED for plain HTTP on a non-loopback address without
 * `allowPlainHttp`.
 */
export function checkTransport(
  host: string,
  opts: { tls: boolean; allowPlainHttp: boolean },
): string | undefined {
  if (opts.tls) return undefined;
  if (isLoopbackHost(host)) return PLAIN_HTTP_WARNING;
  if (opts.allowPlainHttp) return undefined; // the operator vouches for a TLS proxy in front
  throw new ServerStartError(
    `서버가 ${host}에서 TLS 없이 열리려 합니다. DURE_TLS_CERT와 DURE_TLS_KEY를 설정하거나, TLS를 끝내는 프록시 뒤라면 DURE_ALLOW_PLAIN_HTTP=1을 설정하세요. / ` +
      `Refusing plain HTTP on ${host}: set DURE_TLS_CERT and DURE_TLS_KEY, or DURE_ALLOW_PLAIN_HTTP=1 when a TLS-terminating proxy is in front.`,
    'PLAIN_HTTP_REFUSED',
  );
}
