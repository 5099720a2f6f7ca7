/**
 * A loopback HTTP server for model-loading tests: serves one file (on disk or in memory) with
 * `Range` support, an ETag, and switches to misbehave as real servers do (ignore Range, change the
 * file mid-load). Counts requests and the largest range asked for.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RangeServerOptions {
  /** Answer every request with the whole file and status 200, as a server without Range does. */
  ignoreRange?: boolean;
}

export interface RangeServer {
  url: string;
  /** Changeable: a new ETag makes the next responses describe a different file. */
  etag: string;
  requests: number;
  largestRange: number;
  close(): Promise<void>;
}

/** Serves `file` (a path, or bytes) at `<url>`. */
export async function startRangeServer(
  file: string | Uint8Array,
  opts: RangeServerOptions = {},
): Promise<RangeServer> {
  const size = typeof file === 'string' ? statSync(file).size : file.byteLength;
  const body = (start: number, end: number) =>
    typeof file === 'string' ? createReadStream(file, { start, end }) : undefined;
  const state: RangeServer = {
    url: '',
    etag: '"v1"',
    requests: 0,
    largestRange: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    state.requests++;
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const ifMatch = req.headers['if-match'];
    if (ifMatch && ifMatch !== state.etag) {
      res.writeHead(412).end();
      return;
    }
    let start = 0;
    let end = size - 1;
    const headers: Record<string, string | number> = {
      etag: state.etag,
      'content-type': 'application/octet-stream',
      'accept-ranges': opts.ignoreRange ? 'none' : 'bytes',
    };
    if (m && !opts.ignoreRange) {
      start = Number(m[1]);
      end = Math.min(Number(m[2]), size - 1);
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['content-length'] = end - start + 1;
    state.largestRange = Math.max(state.largestRange, end - start + 1);
    res.writeHead(m && !opts.ignoreRange ? 206 : 200, headers);
    const stream = body(start, end);
    if (stream) stream.pipe(res);
    else res.end((file as Uint8Array).subarray(start, end + 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.gguf`;
  return state;
}
