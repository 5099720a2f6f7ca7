/**
 * Measuring the two paths on the citizen's own device (issue 21 item 4): a few greedy tokens of the
 * real model on an engine that is already loaded, and a bound on what the CPU path could reach.
 *
 * Why the real model and not a synthetic matrix × vector kernel: the two paths are different
 * programs (Dure's WGSL kernels vs llama.cpp's WebAssembly SIMD), and what makes one lose is not
 * only bandwidth — on Chromium's software adapter every dispatch costs far more than its arithmetic,
 * so a synthetic kernel would have to mimic the engine's dispatch pattern to be right. Decoding
 * a handful of tokens measures exactly what the citizen will get, and the engine that wins is
 * already loaded (nothing is thrown away). On a real GPU this costs about 10 decode steps
 * (tens of milliseconds) and the CPU path is not even loaded when the GPU beats the CPU's bound;
 * on slow machines every measurement stops at a deadline.
 */
import type { ChatEngine } from '../engine/api.ts';

export interface DecodeMeasurement {
  /**
   * Decode speed in tokens per second, the first token excluded (it carries the prompt and any
   * shader compilation). When `complete` is false the run was cut off and this is an upper bound.
   */
  tokensPerSecond: number;
  /** Tokens produced. */
  tokens: number;
  /** From the request to the first token. */
  firstTokenSeconds: number;
  /** From the request to the last token (or to the cut-off). */
  seconds: number;
  complete: boolean;
}

/**
 * Asked as a chat message, the way the widget asks (llama.cpp's raw-completion path in wllama
 * failed on a test model where its chat path did not); a count invites a longer answer.
 */
export const PROBE_QUESTION = '1부터 20까지 세어 주세요.';
export const PROBE_TOKENS = 8;

export interface MeasureOptions {
  maxTokens?: number;
  /** Cut-off from the request. */
  deadlineMs: number;
  /** Cut-off from the first token (a challenger that cannot win stops early). */
  decodeBudgetMs?: number;
  now?: () => number;
}

const nowMs = () => performance.now();

/**
 * Times a short greedy answer to `PROBE_QUESTION` on a loaded engine, then resets it.
 * @throws whatever the engine throws, unless the run was cut off.
 */
export async function measureDecode(engine: ChatEngine, o: MeasureOptions): Promise<DecodeMeasurement> {
  const now = o.now ?? nowMs;
  const ctl = new AbortController();
  const t0 = now();
  let first = -1;
  let last = -1;
  let tokens = 0;
  let firstChunkTokens = 0;
  let decodeTimer: ReturnType<typeof setTimeout> | undefined;
  const deadline = setTimeout(() => ctl.abort(), o.deadlineMs);
  try {
    const stream = engine.generate({
      messages: [{ role: 'user', content: PROBE_QUESTION }],
      maxTokens: o.maxTokens ?? PROBE_TOKENS,
      greedy: true,
      temperature: 0,
      signal: ctl.signal,
    });
    // for await: leaving the loop early returns the generator, so the engine releases itself.
    for await (const chunk of stream) {
      if (ctl.signal.aborted) break;
      // Dure's engine reports the ids of a chunk (several when UTF-8 was held back); llama.cpp's
      // path yields one chunk per token without ids.
      const n = Math.max(1, chunk.ids.length);
      tokens += n;
      last = now();
      if (first < 0) {
        first = last;
        firstChunkTokens = n;
        if (o.decodeBudgetMs !== undefined) decodeTimer = setTimeout(() => ctl.abort(), o.decodeBudgetMs);
      }
    }
  } catch (e) {
    if (!ctl.signal.aborted) throw e;
  } finally {
    clearTimeout(deadline);
    clearTimeout(decodeTimer);
  }
  await engine.reset();
  return summarise({ t0, first, last, end: now(), tokens, firstChunkTokens, cut: ctl.signal.aborted });
}

/** The measurement from its timestamps (exported for tests). */
export function summarise(r: {
  t0: number;
  first: number;
  last: number;
  end: number;
  tokens: number;
  firstChunkTokens: number;
  cut: boolean;
}): DecodeMeasurement {
  const s = (ms: number) => Math.max(ms, 1e-3) / 1000;
  const decoded = r.tokens - r.firstChunkTokens;
  if (r.first < 0)
    // Not one token before the cut-off: slower than one token in that time.
    return {
      tokensPerSecond: 1 / s(r.end - r.t0),
      tokens: 0,
      firstTokenSeconds: s(r.end - r.t0),
      seconds: s(r.end - r.t0),
      complete: false,
    };
  const firstTokenSeconds = s(r.first - r.t0);
  if (r.cut)
    // The next token had not come by the cut-off: the rate is below (decoded + 1) per elapsed.
    return {
      tokensPerSecond: (decoded + 1) / s(r.end - r.first),
      tokens: r.tokens,
      firstTokenSeconds,
      seconds: s(r.end - r.t0),
      complete: false,
    };
  return {
    // Ended after its first chunk (end of text): only the whole run's rate is known.
    tokensPerSecond: decoded > 0 ? decoded / s(r.last - r.first) : r.tokens / s(r.last - r.t0),
    tokens: r.tokens,
    firstTokenSeconds,
    seconds: s(r.last - r.t0),
    complete: true,
  };
}

/**
 * How fast one CPU core streams memory from JavaScript: a 16 MiB array, written once (so its pages
 * are real, not the shared zero page) and summed with four accumulators, best of two passes; about
 * 10–40 ms on a desktop. Where it fits a large last-level cache the rate comes out higher, which
 * only raises the CPU bound (the CPU path is then measured rather than skipped).
 */
export function cpuReadBytesPerSecond(now: () => number = nowMs): number {
  const a = new Float64Array(2 << 20).fill(1.5);
  let best = Infinity;
  let sink = 0;
  for (let pass = 0; pass < 2; pass++) {
    const t = now();
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let i = 0; i < a.length; i += 4) {
      s0 += a[i]!;
      s1 += a[i + 1]!;
      s2 += a[i + 2]!;
      s3 += a[i + 3]!;
    }
    sink += s0 + s1 + s2 + s3;
    best = Math.min(best, now() - t);
  }
  // `sink` keeps the loop from being optimised away.
  return sink < 0 ? 0 : a.byteLength / (Math.max(best, 0.1) / 1000);
}

/**
 * Headroom over the JavaScript read rate for WebAssembly SIMD loads (16 bytes per load).
 * Generous on purpose: the bound must not be below what llama.cpp reaches.
 */
export const SIMD_HEADROOM = 2;

/**
 * The most tokens per second llama.cpp in WebAssembly (one thread, as the widget runs it) could
 * decode this model at: decoding reads every weight once per token, at least half the file (the
 * token embedding table is the part that may not be read whole), and it cannot read faster than
 * the core streams memory. A GPU measured above this wins without loading the CPU path at all.
 */
export function cpuDecodeBound(readBytesPerSecond: number, modelBytes: number, threads = 1): number {
  if (!(modelBytes > 0)) return Infinity;
  return (SIMD_HEADROOM * threads * readBytesPerSecond) / (modelBytes / 2);
}
