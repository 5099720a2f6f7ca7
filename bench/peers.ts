/**
 * Peers in the same run, so Dure is compared on one machine and one set of weights: the bench GGUF
 * and its ONNX export, served from a local Vite server to Debian's Chromium (SwiftShader WebGPU,
 * the e2e launch arguments), where bench/pages/peers.ts runs Dure's engine in its worker, ONNX
 * Runtime Web on WebGPU and wllama (WebAssembly CPU) one after another; then node-llama-cpp (native
 * CPU) in this process. Same weights, same prompt, greedy. `npx tsx bench/peers.ts [--quick]` runs
 * it alone.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { chromium } from 'playwright-core';
import { createServer, type Plugin } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH, assertChromium } from '../e2e/chromium.ts';
import { readGguf } from '../src/engine/gguf/reader.ts';
import { createTokenizer } from '../src/engine/tokenizer/tokenizer.ts';
import { FileSource } from '../src/node/file-source.ts';
import { exportLlamaOnnx, type OnnxWeights } from '../scripts/onnx/export-llama.ts';
import { BENCH_SHAPE, benchModelPath } from './bench-model.ts';
import type { PeerRun, PeersApi } from './pages/peers.ts';

export type PeerBackend = 'webgpu' | 'wasm-cpu' | 'native-cpu';

export interface PeerEntry {
  name: string;
  backend: PeerBackend;
  tok_s: number | null;
  prefill_tok_s: number | null;
  ttft_ms: number | null;
  detail: string;
  error?: string;
}

export interface PeersResult {
  browser: string;
  adapter: { description: string; features: string[] };
  prompt_tokens: number;
  decode_tokens: number;
  onnx_weights: OnnxWeights;
  /** Dure's engine in its worker in the same browser: the side of the ratios. */
  dure_browser: PeerEntry;
  peers: PeerEntry[];
  /** Dure ÷ ONNX Runtime Web on the same adapter (goal: decode ≥ 1.3, prefill ≥ 1). */
  ratios: { decode: number | null; prefill: number | null };
}

export interface PeersOptions {
  promptTokens: number;
  decodeTokens: number;
  onnxWeights: OnnxWeights;
  /** CPU threads for wllama and node-llama-cpp. */
  cpuThreads: number;
  /** Warm ONNX Runtime Web up with the identical generation (its shaders are keyed by shape). */
  ortWarmSame?: boolean;
  /** Bring ONNX Runtime Web's KV cache back to the CPU each step (diagnosis; default: on the GPU). */
  ortKvOnCpu?: boolean;
  /** Run only these peers (names as in the results; Dure is `dure`). */
  only?: string[];
  log?: (s: string) => void;
}

/** The cached ONNX export of the bench model (regenerated when the GGUF is newer). */
export async function benchOnnxPath(gguf: string, weights: OnnxWeights): Promise<string> {
  const path = gguf.replace(/\.gguf$/, `.${weights}.onnx`);
  if (existsSync(path) && statSync(path).mtimeMs >= statSync(gguf).mtimeMs) return path;
  await exportLlamaOnnx(gguf, path, { weights, maxPositions: 1024 });
  return path;
}

/** Serves the cache directory's model files at /bench-models/ (range requests are not needed). */
function serveModels(dir: string): Plugin {
  return {
    name: 'dure-bench-models',
    configureServer(server) {
      server.middlewares.use(
        '/bench-models/',
        (req: IncomingMessage, res: ServerResponse, next: () => void) => {
          const name = basename(decodeURIComponent((req.url ?? '').split('?')[0] ?? ''));
          const file = join(dir, name);
          if (!name || !existsSync(file)) return next();
          res.setHeader('Content-Type', 'application/octet-stream');
          res.setHeader('Content-Length', String(statSync(file).size));
          createReadStream(file).pipe(res);
        },
      );
    },
  };
}

function entry(name: string, backend: PeerBackend, r: PeerRun | Error, detail: string): PeerEntry {
  if (r instanceof Error)
    return { name, backend, tok_s: null, prefill_tok_s: null, ttft_ms: null, detail, error: r.message };
  return {
    name,
    backend,
    tok_s: r.tok_s,
    prefill_tok_s: r.prefill_tok_s,
    ttft_ms: r.ttft_ms,
    detail: `${detail}; ${r.decoded_tokens} tokens after a ${r.prompt_tokens}-token prompt; load ${(r.load_ms / 1000).toFixed(1)} s${r.native ? `; llama.cpp's own timings: prefill ${r.native.prefill_tok_s.toFixed(1)}, decode ${r.native.tok_s.toFixed(1)} tok/s` : ''}${r.steps_ms ? `; step ms ${r.steps_ms.map((x) => x.toFixed(0)).join(' ')}` : ''}`,
  };
}

async function attempt<T>(log: (s: string) => void, what: string, fn: () => Promise<T>): Promise<T | Error> {
  if (skip?.(what)) return new Error('not run (--only)');
  const t = performance.now();
  try {
    const r = await fn();
    const steps = (r as { steps_ms?: number[]; warmup_steps_ms?: number[] } | null) ?? {};
    const ms = (a?: number[]) => (a ? ` [${a.map((x) => x.toFixed(0)).join(' ')}] ms` : '');
    const note = (r as { note?: string } | null)?.note;
    log(
      (note ? `peers: ${what}: ${note}\n` : '') +
        `peers: ${what} done in ${((performance.now() - t) / 1000).toFixed(1)} s` +
        (steps.warmup_steps_ms ? `; warm-up steps${ms(steps.warmup_steps_ms)}` : '') +
        (steps.steps_ms ? `; steps${ms(steps.steps_ms)}` : ''),
    );
    return r;
  } catch (e) {
    log(`peers: ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof Error ? e : new Error(String(e));
  }
}

const PROMPT_SOURCE =
  '두레는 공공기관과 병원이 데이터를 밖으로 보내지 않고 작은 언어 모델을 쓰게 합니다. ' +
  '시민은 브라우저 안에서 모델과 대화하고, 기관은 자기 브라우저에서 어댑터를 학습합니다. ';

/**
 * The prompt as ids and as text: Korean text tokenized by Dure's tokenizer (byte-exact with
 * llama.cpp's), cut to `n` tokens; the text is those ids decoded, for wllama's text-only API.
 */
async function benchPrompt(gguf: string, n: number): Promise<{ ids: number[]; text: string }> {
  const src = await FileSource.open(gguf);
  try {
    const tok = createTokenizer((await readGguf(src)).metadata);
    let text = PROMPT_SOURCE;
    while (tok.encode(text).length < n + 8) text += PROMPT_SOURCE;
    const cut = tok.decode(tok.encode(text).slice(0, n));
    return { ids: tok.encode(cut), text: cut };
  } finally {
    await src.close();
  }
}

let skip: ((what: string) => boolean) | undefined;

/** llama.cpp native CPU through node-llama-cpp: greedy, the same token ids. */
async function nodeLlamaCpp(
  gguf: string,
  promptIds: number[],
  decodeTokens: number,
  threads: number,
): Promise<PeerRun> {
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  const t = performance.now();
  const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
  const loadMs = performance.now() - t;
  const ctx = await model.createContext({ contextSize: 1024, batchSize: 512, threads });
  try {
    const once = async (prompt: number[], n: number): Promise<PeerRun> => {
      const seq = ctx.getSequence();
      try {
        const ids: number[] = [];
        let tFirst = 0;
        const t0 = performance.now();
        for await (const tok of seq.evaluate(prompt as never, { temperature: 0 })) {
          if (!tFirst) tFirst = performance.now();
          ids.push(tok as number);
          if (ids.length >= n) break;
        }
        const tEnd = performance.now();
        const ttft = tFirst - t0;
        return {
          prompt_tokens: prompt.length,
          decoded_tokens: ids.length,
          ttft_ms: ttft,
          prefill_tok_s: prompt.length / (ttft / 1000),
          tok_s: (ids.length - 1) / ((tEnd - tFirst) / 1000),
          load_ms: loadMs,
          ids,
        };
      } finally {
        seq.dispose();
      }
    };
    await once(promptIds.slice(0, 6), 2);
    return await once(promptIds, decodeTokens + 1);
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

/**
 * Runs every peer on the bench model.
 * @throws {Error} when Chromium is missing (peers that fail later are reported, not thrown).
 */
export async function benchPeers(opts: PeersOptions): Promise<PeersResult> {
  const log = opts.log ?? ((s: string) => console.error(s));
  const only = opts.only;
  skip = only ? (what) => !only.some((o) => what.toLowerCase().startsWith(o.toLowerCase())) : undefined;
  assertChromium();
  const gguf = await benchModelPath();
  const onnx = await attempt(log, `ONNX Runtime Web export (${opts.onnxWeights})`, () =>
    benchOnnxPath(gguf, opts.onnxWeights),
  );
  const shape = BENCH_SHAPE;
  const prompt = await benchPrompt(gguf, opts.promptTokens);
  const promptIds = prompt.ids;
  const req = { promptIds, promptText: prompt.text, decodeTokens: opts.decodeTokens };
  const root = join(import.meta.dirname, '..');

  const server = await createServer({
    configFile: false,
    root,
    logLevel: 'error',
    plugins: [serveModels(dirname(gguf))],
    worker: { format: 'es' },
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('vite server has no port');
  const base = `http://127.0.0.1:${address.port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  let result: PeersResult;
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(0);
    page.on('console', (m) => {
      if (m.type() === 'error' || process.env['DURE_PEERS_VERBOSE']) log(`peers page: ${m.text()}`);
    });
    if (process.env['DURE_PEERS_VERBOSE']) await page.addInitScript('globalThis.ORT_VERBOSE = true');
    await page.goto(`${base}/bench/pages/peers.html`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
    type W = { peers: PeersApi };
    const adapter = await page.evaluate(() => (window as unknown as W).peers.adapterInfo());
    const modelUrl = `/bench-models/${basename(gguf)}`;

    const dure = await attempt(log, 'Dure (WebGPU, worker)', () =>
      page.evaluate((r) => (window as unknown as W).peers.dure(r), { ...req, url: modelUrl }),
    );
    const ortRun =
      onnx instanceof Error
        ? onnx
        : await attempt(log, 'ONNX Runtime Web (WebGPU)', () =>
            page.evaluate((r) => (window as unknown as W).peers.ortWebgpu(r), {
              ...req,
              url: `/bench-models/${basename(onnx)}`,
              nLayer: shape.nLayer,
              nKv: shape.nKv,
              headDim: shape.nEmbd / shape.nHead,
              warmSame: opts.ortWarmSame ?? false,
              kvOnCpu: opts.ortKvOnCpu ?? false,
            }),
          );
    const wl = await attempt(log, 'wllama (WASM CPU)', () =>
      page.evaluate((r) => (window as unknown as W).peers.wllama(r), {
        ...req,
        url: modelUrl,
        threads: opts.cpuThreads,
      }),
    );
    const version = browser.version();
    await browser.close();
    const native = await attempt(log, 'node-llama-cpp (native CPU)', () =>
      nodeLlamaCpp(gguf, promptIds, opts.decodeTokens, opts.cpuThreads),
    );

    const ortEntry = entry(
      'onnxruntime-web',
      'webgpu',
      ortRun,
      `ONNX Runtime Web on WebGPU, ${opts.onnxWeights === 'q4' ? 'int4 MatMulNBits (block 32)' : 'f32'} weights, KV cache on the GPU`,
    );
    const dureEntry = entry('dure', 'webgpu', dure, 'Dure WGSL engine in its Web Worker, same browser');
    const ratio = (a: number | null, b: number | null) => (a && b ? a / b : null);
    result = {
      browser: `Chromium ${version}`,
      adapter,
      prompt_tokens: opts.promptTokens,
      decode_tokens: opts.decodeTokens,
      onnx_weights: opts.onnxWeights,
      dure_browser: dureEntry,
      peers: [
        ortEntry,
        entry('wllama', 'wasm-cpu', wl, 'CPU path: llama.cpp in WebAssembly, same browser, same GGUF'),
        entry(
          'node-llama-cpp',
          'native-cpu',
          native,
          `CPU path: llama.cpp native, ${opts.cpuThreads} thread(s)`,
        ),
      ],
      ratios: {
        decode: ratio(dureEntry.tok_s, ortEntry.tok_s),
        prefill: ratio(dureEntry.prefill_tok_s, ortEntry.prefill_tok_s),
      },
    };
  } finally {
    await browser.close().catch(() => undefined);
    await server.close();
  }
  return result;
}

/** Table rows for bench/results/latest.txt. */
export function peersTable(r: PeersResult): string[] {
  const f = (v: number | null, d: number) => (v === null ? '—' : v.toFixed(d));
  const row = (e: PeerEntry) =>
    `  ${e.name.padEnd(16)} ${e.backend.padEnd(10)} ${f(e.tok_s, 2).padStart(8)} ${f(e.prefill_tok_s, 1).padStart(9)} ${f(e.ttft_ms, 0).padStart(9)}` +
    (e.error ? `  (failed: ${e.error.slice(0, 80)})` : '');
  return [
    `Peers in one browser (${r.browser}; ${r.prompt_tokens}-token prompt, ${r.decode_tokens} decoded, greedy; ONNX weights ${r.onnx_weights})`,
    '  name             backend       tok/s  prefill/s   TTFT ms',
    row(r.dure_browser),
    ...r.peers.map(row),
    `  Dure ÷ onnxruntime-web: decode ${f(r.ratios.decode, 2)}× (goal ≥ 1.3), prefill ${f(r.ratios.prefill, 2)}× (goal ≥ 1)`,
    '  (wasm-cpu and native-cpu are CPU paths, reference points only: they do not use the adapter)',
  ];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const r = await benchPeers({
    promptTokens: quick ? 32 : 128,
    decodeTokens: quick ? 8 : 32,
    onnxWeights: process.argv.includes('--f32') ? 'f32' : 'q4',
    cpuThreads: 1,
    ortWarmSame: process.argv.includes('--ort-warm-same'),
    ortKvOnCpu: process.argv.includes('--ort-kv-cpu'),
    ...(arg('--only') ? { only: (arg('--only') ?? '').split(',') } : {}),
    ...(arg('--prompt') ? { promptTokens: Number(arg('--prompt')) } : {}),
    ...(arg('--decode') ? { decodeTokens: Number(arg('--decode')) } : {}),
  });
  console.log(JSON.stringify(r, null, 2));
  console.log(peersTable(r).join('\n'));
  process.exit(0);
}
