/**
 * A stand-in engine for timing code (the backend measurement and race): it writes a token every
 * `stepMs` after `firstMs`, honours the abort signal at once, and counts resets and disposals.
 */
import type { ChatEngine, GenerateChunk, GenerateRequest, GenerateResult, ModelInfo } from '../engine/api.ts';

/** An engine that writes a token every `stepMs` after `firstMs`, until `eosAfter` tokens. */
export class PacedEngine implements ChatEngine {
  resets = 0;
  disposed = false;
  requests: GenerateRequest[] = [];
  busy = false;
  constructor(
    readonly firstMs: number,
    readonly stepMs: number,
    readonly eosAfter = Infinity,
  ) {}
  load(): Promise<ModelInfo> {
    throw new Error('not used');
  }
  async *generate(req: GenerateRequest): AsyncGenerator<GenerateChunk, GenerateResult, void> {
    if (this.busy) throw new Error('already generating');
    this.busy = true;
    this.requests.push(req);
    try {
      const wait = (ms: number) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ms);
          req.signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
        });
      let n = 0;
      await wait(this.firstMs);
      while (n < (req.maxTokens ?? 1) && n < this.eosAfter && !req.signal?.aborted) {
        n++;
        yield { text: `${n},`, ids: [n] };
        if (n < (req.maxTokens ?? 1)) await wait(this.stepMs);
      }
      return {
        text: '',
        ids: [],
        finishReason: req.signal?.aborted ? 'abort' : 'length',
        promptTokens: 1,
        completionTokens: n,
      };
    } finally {
      this.busy = false;
    }
  }
  async reset(): Promise<void> {
    this.resets++;
  }
  async dispose(): Promise<void> {
    this.disposed = true;
  }
}
