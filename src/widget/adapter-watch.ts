/**
 * Hot-loading a task's global LoRA adapter into the widget: poll the federated
 * server for the newest public adapter and hand it to the engine without reloading the base model.
 * Kept apart from the component so its timing rules are unit-tested: never swap in the middle of
 * an answer (the engine forgets its KV cache on a swap), never download or apply the same file
 * twice (each poll names the file held, so an unchanged adapter costs one bodiless 304), and keep
 * the current adapter when a poll fails.
 */
import { toErrorData, type ErrorData } from '../engine/errors.ts';
import { InvalidRequestError } from '../protocol/errors.ts';
import type { LoraTensors } from '../training/api.ts';

/**
 * The `adapter-version` attribute: empty or `stable` follows the task's stable channel (the version
 * an admin approved last; undefined here), digits pin that published version.
 * @throws {InvalidRequestError} for anything else, so a typo is shown rather than silently ignored.
 */
export function adapterPin(attribute: string): number | undefined {
  const v = attribute.trim();
  if (v === '' || v.toLowerCase() === 'stable') return undefined;
  if (/^[0-9]{1,9}$/.test(v)) return Number(v);
  throw new InvalidRequestError(
    `adapter-version="${v.slice(0, 40)}": use "stable" or a published version number`,
  );
}

/** What the watcher needs of a downloaded adapter (src/fl/adapter-feed.ts `GlobalAdapter`). */
export interface FetchedAdapter {
  version: number | null;
  sha256: string;
  lora: LoraTensors;
  /** The ETag it came with, when readable. */
  etag?: string | null;
}

/** The server still has the file held (src/fl/adapter-feed.ts `AdapterUnchanged`). */
export interface UnchangedAdapter {
  unchanged: true;
}

/** The file a poll names as held (src/fl/adapter-feed.ts `KnownAdapter`). */
export interface HeldAdapter {
  sha256: string;
  etag: string | null;
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
  /**
   * The newest adapter, or `unchanged` when it is still `held` (null before the first download),
   * e.g. `fetchLatestAdapter(url, task, { signal, known: held })`.
   */
  fetchLatest: (
    serverUrl: string,
    taskId: string,
    signal: AbortSignal,
    held: HeldAdapter | null,
  ) => Promise<FetchedAdapter | UnchangedAdapter>;
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
  /**
   * The last file downloaded, applied or not: a file the engine refused is not fetched again
   * until the server has another one (its error stays reported).
   */
  private held: HeldAdapter | null = null;
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
      const latest = await this.opts.fetchLatest(this.opts.serverUrl, this.opts.taskId, signal, this.held);
      if (signal.aborted || 'unchanged' in latest) return;
      this.held = { sha256: latest.sha256, etag: latest.etag ?? null };
      if (latest.sha256 === this.active?.sha256) return;
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
