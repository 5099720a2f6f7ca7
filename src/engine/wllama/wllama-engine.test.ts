import { describe, expect, it } from 'vitest';
import { WasmEngineError } from './errors.ts';
import { bundledWasmUrl, checkWasm } from './wllama-engine.ts';

const URL_ = 'https://dure.example/dure/assets/wllama-abc.wasm';
const answer =
  (body: BodyInit | null, init: ResponseInit = {}): typeof fetch =>
  async () =>
    new Response(body, init);

describe('checkWasm', () => {
  it('accepts a WebAssembly module (first bytes), whether the server honours Range or not', async () => {
    const wasm = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    await expect(checkWasm(URL_, answer(wasm, { status: 206 }))).resolves.toBeUndefined();
    await expect(checkWasm(URL_, answer(wasm, { status: 200 }))).resolves.toBeUndefined();
  });

  it('names the URL and what to fix, in Korean and English, for a 404, an HTML page or a refused request', async () => {
    const cases: [typeof fetch, RegExp][] = [
      [answer('not found', { status: 404 }), /HTTP 404/],
      [
        answer('<!doctype html><html>portal</html>', {
          status: 200,
          headers: { 'content-type': 'text/html' },
        }),
        /not a WebAssembly file \(text\/html\)/,
      ],
      [
        async () => {
          throw new TypeError('Failed to fetch');
        },
        /network or CORS: Failed to fetch/,
      ],
    ];
    for (const [f, why] of cases) {
      const e = await checkWasm(URL_, f).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(WasmEngineError);
      const m = (e as Error).message;
      expect(m).toMatch(why);
      expect(m).toContain(URL_);
      expect(m).toMatch(/불러오지 못했습니다/);
      expect(m).toMatch(/Access-Control-Allow-Origin/);
    }
  });
});

describe('bundledWasmUrl', () => {
  it('is absolute (resolved against the module, not the page)', () => {
    expect(new URL(bundledWasmUrl()).href).toBe(bundledWasmUrl());
    expect(bundledWasmUrl()).toMatch(/wllama\.wasm/);
  });
});
