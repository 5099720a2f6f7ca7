/**
 * Hot-loading a task's global LoRA adapter into the widget (issue 8 §6): poll the federated
 * server for the newest public adapter and hand it to the engine without reloading the base model.
 * Kept apart from the component so its timing rules are unit-tested: never swap in the middle of
 * an answer (the engine forgets its KV cache on a swap), never apply the same file twice, and keep
 * the current adapter when a poll fails.
 */
import { toErrorData, type ErrorData } from '../engine/errors.ts';
import type { LoraTensors } from '../training/api.ts';

/** What the watcher needs of a downloaded adapter (src/fl/adapter-feed.ts `GlobalAdapter`). */
export interface FetchedAdapter {
  version: number | null;
  sha256: string;
  lora: LoraTensors;
}

export interface ActiveAdapter {
  taskId: string;
  version: number | null;
  sha256: string;
}

export interface AdapterWatchOptions {
  serverUrl: string;
  taskId: string;
  /** Time between polls. */
  intervalMs: number;
  fetchLatest: (serverUrl: string, taskId: string, signal: AbortSignal) => Promise<FetchedAdapter>;
  /** Applies the adapter to the engine (e.g. `engine.setAdapters([...])`). */
  apply: (adapter: FetchedAdapter) => Promise<void>;
  /** True while an answer is being written: the swap waits for it. */
  busy: () => boolean;
  onChange: (active: ActiveAdapter) => void;
  onError: (error: ErrorData) => void;
}

/** How often a deferred swap checks whether the answer has finished. */
const BUSY_RETRY_MS = 200;

export class AdapterWatcher {
  private active: ActiveAdapter | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly abort = new AbortController();
  private polling: Promise<void> | null = null;

  constructor(private readonly opts: AdapterWatchOptions) {}

  get current(): ActiveAdapter | null {
    return this.active;
  }

  /** Polls now, then every `intervalMs` until `stop()`. */
  start(): void {
    const loop = () => {
      if (this.abort.signal.aborted) return;
      void this.check().finally(() => {
        if (!this.abort.signal.aborted) this.timer = setTimeout(loop, this.opts.intervalMs);
      });
    };
    loop();
  }

  stop(): void {
    this.abort.abort();
    clearTimeout(this.timer);
  }

  /** One poll: fetch, and apply if the file is new. Concurrent calls share one poll. */
  check(): Promise<void> {
    this.polling ??= this.poll().finally(() => (this.polling = null));
    return this.polling;
  }

  private async poll(): Promise<void> {
    const { signal } = this.abort;
    try {
      const latest = await this.opts.fetchLatest(this.opts.serverUrl, this.opts.taskId, signal);
      if (signal.aborted || latest.sha256 === this.active?.sha256) return;
      while (this.opts.busy()) {
        await new Promise((r) => setTimeout(r, BUSY_RETRY_MS));
        if (signal.aborted) return;
      }
      await this.opts.apply(latest);
      this.active = { taskId: this.opts.taskId, version: latest.version, sha256: latest.sha256 };
      this.opts.onChange(this.active);
    } catch (e) {
      if (!signal.aborted) this.opts.onError(toErrorData(e));
    }
  }
}
