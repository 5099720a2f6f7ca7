import { afterEach, describe, expect, it } from 'vitest';
import { startRangeServer, type RangeServer } from '../../testing/range-server.ts';
import { BlobSource, RangeSource } from './sources.ts';

const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7 + 3) & 0xff);
let server: RangeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('RangeSource: a URL read by HTTP Range in bounded chunks', () => {
  it('reads any range exactly, never asking for more than a chunk', async () => {
    server = await startRangeServer(bytes);
    const src = await RangeSource.open(server.url, { chunkBytes: 1000 });
    expect(src.size).toBe(bytes.byteLength);
    expect(await src.read(1234, 4321)).toEqual(bytes.subarray(1234, 5555));
    const into = new Uint8Array(2500);
    await src.readInto(7500, into);
    expect(into).toEqual(bytes.subarray(7500));
    expect(server.largestRange).toBeLessThanOrEqual(1000);
    await expect(src.read(9999, 2)).rejects.toMatchObject({ code: 'GGUF_TRUNCATED' });
  });

  it('refuses a server that ignores Range with a typed error instead of downloading it whole', async () => {
    server = await startRangeServer(bytes, { ignoreRange: true });
    await expect(RangeSource.open(server.url)).rejects.toMatchObject({ code: 'MODEL_RANGE_UNSUPPORTED' });
  });

  it('openOrWhole: uses Range where honoured, else keeps the whole file the probe received (one request)', async () => {
    server = await startRangeServer(bytes);
    expect(await RangeSource.openOrWhole(server.url)).toBeInstanceOf(RangeSource);
    await server.close();
    server = await startRangeServer(bytes, { ignoreRange: true });
    const whole = await RangeSource.openOrWhole(server.url);
    expect(whole).not.toBeInstanceOf(RangeSource);
    expect(whole.size).toBe(bytes.byteLength);
    expect(await whole.read(1234, 4321)).toEqual(bytes.subarray(1234, 5555));
    expect(server.requests).toBe(1);
  });

  it('detects a file replaced mid-load (ETag changed)', async () => {
    server = await startRangeServer(bytes);
    const src = await RangeSource.open(server.url);
    await src.read(0, 100);
    server.etag = '"v2"';
    await expect(src.read(100, 100)).rejects.toMatchObject({ code: 'MODEL_CHANGED' });
  });

  it('detects a change behind a weak ETag too (not sent as If-Match, compared on each answer)', async () => {
    server = await startRangeServer(bytes);
    server.etag = 'W/"v1"';
    const src = await RangeSource.open(server.url);
    await src.read(0, 100);
    server.etag = 'W/"v2"';
    await expect(src.read(100, 100)).rejects.toMatchObject({ code: 'MODEL_CHANGED' });
  });

  it('reports an unreachable or failing server as a download error', async () => {
    server = await startRangeServer(bytes);
    const url = server.url;
    await server.close();
    server = undefined;
    await expect(RangeSource.open(url)).rejects.toMatchObject({ code: 'MODEL_DOWNLOAD' });
  });
});

describe('BlobSource.readInto: a Blob range streamed into a reused buffer', () => {
  it('fills the target exactly and refuses ranges past the end', async () => {
    const src = new BlobSource(new Blob([bytes]));
    const into = new Uint8Array(3000);
    await src.readInto(4000, into);
    expect(into).toEqual(bytes.subarray(4000, 7000));
    await expect(src.readInto(9000, new Uint8Array(2000))).rejects.toMatchObject({ code: 'GGUF_TRUNCATED' });
  });
});
