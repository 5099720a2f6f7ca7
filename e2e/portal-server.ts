/**
 * A plain node:http static server for the layout tests: a portal page on one origin, and Dure's
 * build served from a sub-path, the web root, or another origin (then with the CORS headers a
 * real Dure host must send for its scripts, wasm and model: module scripts and workers started
 * from another origin are fetched in CORS mode, and the model is downloaded with Range requests).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.gguf': 'application/octet-stream',
};

export interface Mount {
  /** URL path prefix, ending in `/` (`/` for the web root, `/dure/` for a sub-path). */
  prefix: string;
  /** Folder served under it. */
  dir: string;
}

export interface StaticServerOptions {
  /** Host name in the returned URL (the server listens on 127.0.0.1 either way). */
  host?: 'localhost' | '127.0.0.1';
  mounts?: Mount[];
  /** Pages written by the test, by path (`/portal.html`). */
  pages?: Record<string, string>;
  /** Answer cross-origin requests (scripts, workers, wasm, model) with CORS headers. */
  cors?: boolean;
  /** Paths that answer 404 although the file exists (a broken or partial upload). */
  hide?: RegExp;
}

export interface ServedRequest {
  path: string;
  status: number;
  origin: string | undefined;
}

export interface StaticServer {
  origin: string;
  requests: ServedRequest[];
  close(): Promise<void>;
}

function corsHeaders(req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin) return {};
  return {
    'access-control-allow-origin': origin,
    vary: 'Origin',
    'access-control-allow-methods': 'GET, HEAD',
    'access-control-allow-headers': 'Range',
    'access-control-expose-headers': 'Content-Length, Content-Range, Accept-Ranges, ETag',
    'access-control-max-age': '600',
  };
}

export async function startStaticServer(opts: StaticServerOptions): Promise<StaticServer> {
  const requests: ServedRequest[] = [];
  const mounts = [...(opts.mounts ?? [])].sort((a, b) => b.prefix.length - a.prefix.length);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const cors = opts.cors ? corsHeaders(req) : {};
    if (req.method === 'OPTIONS') {
      res.writeHead(opts.cors ? 204 : 405, cors).end();
      return opts.cors ? 204 : 405;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, cors).end();
      return 405;
    }
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const notFound = () => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...cors }).end('not found');
      return 404;
    };
    const page = opts.pages?.[path];
    if (page !== undefined) {
      res.writeHead(200, { 'content-type': TYPES['.html']!, 'cache-control': 'no-store', ...cors });
      res.end(req.method === 'HEAD' ? undefined : page);
      return 200;
    }
    if (opts.hide?.test(path)) return notFound();
    const mount = mounts.find((m) => path.startsWith(m.prefix));
    if (!mount) return notFound();
    let rel = path.slice(mount.prefix.length);
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    const file = normalize(join(mount.dir, rel));
    if (!file.startsWith(normalize(mount.dir) + sep)) return notFound();
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return notFound();
    const headers: Record<string, string | number> = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'accept-ranges': 'bytes',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      ...cors,
    };
    let start = 0;
    let end = info.size - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), info.size - 1) : info.size - 1;
      if (start >= info.size) {
        res.writeHead(416, { 'content-range': `bytes */${info.size}`, ...cors }).end();
        return 416;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${info.size}`;
    }
    headers['content-length'] = end - start + 1;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') res.end();
    else createReadStream(file, { start, end }).pipe(res);
    return status;
  }

  const server = createServer((req, res) => {
    handle(req, res).then(
      (status) =>
        requests.push({ path: req.url ?? '', status, origin: req.headers.origin as string | undefined }),
      (e: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(e));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
