/**
 * The widget's state and behaviour, outside the markup so the component only renders: messages as
 * `$state.raw` arrays replaced on each change, derived flags, and every side effect (engine,
 * IndexedDB, events) in methods the component calls.
 */
import type { ChatEngine, ChatMessage, ModelInfo } from '../engine/api.ts';
import { LoraUnsupportedError, toErrorData, type ErrorData } from '../protocol/errors.ts';
import { fetchLatestAdapter } from '../fl/adapter-feed.ts';
import { checkOrigin } from '../model-manager/download.ts';
import { openModelStore, type StoredModel } from '../model-manager/store.ts';
import { startEngine, type DureProgress } from '../sdk/runtime.ts';
import { detectPii, maskPii, type PiiFinding } from '../safety/pii.ts';
import { AdapterWatcher, type ActiveAdapter } from './adapter-watch.ts';
import type { BackendDecision } from './backend.ts';
import { absoluteUrl } from './format.ts';
import { clearConversation, loadConversation, saveConversation, type StoredMessage } from './history.ts';

export type Phase = 'idle' | 'probe' | 'download' | 'load' | 'ready' | 'error';

export interface WidgetConfig {
  model: string;
  sha256: string;
  systemPrompt: string;
  allowedOrigins: string[];
  maxTokens: number;
  temperature: number;
  conversationKey: string;
  backend: 'auto' | 'webgpu' | 'wasm-cpu';
  /**
   * Hot-load the newest public global adapter of this federated task, polled from
   * `adapterServer` (same origin as the page unless listed in `allowedOrigins`). Empty: off.
   */
  adapterTask: string;
  adapterServer: string;
  adapterIntervalMs: number;
}

export type Emit = (
  type: 'dure-ready' | 'dure-message' | 'dure-error' | 'dure-progress' | 'dure-adapter',
  detail: unknown,
) => void;

let idCounter = 0;
const newId = () => `m${Date.now().toString(36)}${(idCounter++).toString(36)}`;

export class ChatState {
  messages: StoredMessage[] = $state.raw([]);
  phase: Phase = $state('idle');
  progress: DureProgress | null = $state.raw(null);
  error: ErrorData | null = $state.raw(null);
  decision: BackendDecision | null = $state.raw(null);
  info: ModelInfo | null = $state.raw(null);
  streamingId: string | null = $state(null);
  pii: { text: string; findings: PiiFinding[] } | null = $state.raw(null);
  storedModels: StoredModel[] = $state.raw([]);
  notice = $state('');
  /** The global adapter the engine applies now (null: the base model). */
  adapter: ActiveAdapter | null = $state.raw(null);
  adapterError: ErrorData | null = $state.raw(null);

  readonly generating = $derived(this.streamingId !== null);
  readonly canSend = $derived(this.phase === 'ready' && this.streamingId === null);
  readonly lastAssistant = $derived(this.messages.findLast((m) => m.role === 'assistant') ?? null);

  private engine: ChatEngine | null = null;
  private loadedUrl = '';
  private abort: AbortController | null = null;
  private starting: Promise<void> | null = null;
  private watcher: AdapterWatcher | null = null;

  constructor(
    private readonly config: () => WidgetConfig,
    private readonly emit: Emit,
  ) {}

  /** Restores the saved conversation and starts the model at once if it is already stored. */
  async restore(autoload: boolean): Promise<void> {
    const cfg = this.config();
    const url = cfg.model ? absoluteUrl(cfg.model) : '';
    if (this.engine && this.loadedUrl !== url) {
      // The portal pointed the element at another model: drop the old one.
      this.stop();
      this.stopAdapterWatch();
      await this.engine.dispose();
      this.engine = null;
      this.info = null;
      this.phase = 'idle';
    }
    this.messages = await loadConversation(cfg.conversationKey).catch(() => []);
    await this.refreshModels();
    if (this.engine) return;
    const stored = this.storedModels.some((m) => m.meta.url === url && m.meta.complete);
    if (cfg.model && (autoload || stored)) await this.start();
  }

  /** Probe → download (resumable, verified) → load. Safe to call twice. */
  start(): Promise<void> {
    this.starting ??= this.doStart().finally(() => (this.starting = null));
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const cfg = this.config();
    this.error = null;
    try {
      const started = await startEngine({
        model: cfg.model,
        ...(cfg.sha256 ? { sha256: cfg.sha256 } : {}),
        allowedOrigins: cfg.allowedOrigins,
        backend: cfg.backend,
        onProgress: (p) => {
          this.phase = p.phase === 'verify' ? 'download' : p.phase === 'ready' ? this.phase : p.phase;
          this.progress = p;
          this.emit('dure-progress', p);
        },
      });
      this.engine = started.engine;
      this.loadedUrl = absoluteUrl(cfg.model);
      this.decision = started.decision;
      this.info = started.info;
      await this.refreshModels();
      // Ready state and dure-ready together: the event is dispatched synchronously, the DOM
      // update follows, so anyone who sees data-phase="ready" has also received dure-ready.
      this.phase = 'ready';
      this.emit('dure-ready', {
        backend: started.info.backend,
        reason: started.decision.reason,
        fromCache: started.fromCache,
      });
      this.startAdapterWatch();
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    this.phase = this.engine ? 'ready' : 'error';
    this.error = toErrorData(e);
    this.emit('dure-error', this.error);
  }

  /**
   * Checks for personal identifiers first; if any, waits for the citizen's choice (`confirmPii`).
   * Returns false when nothing was sent (empty, busy, or waiting on the PII prompt).
   */
  async submit(text: string, opts: { skipPiiCheck?: boolean } = {}): Promise<boolean> {
    const trimmed = text.trim();
    if (!trimmed || !this.canSend) return false;
    if (!opts.skipPiiCheck) {
      const findings = detectPii(trimmed);
      if (findings.length > 0) {
        this.pii = { text: trimmed, findings };
        return false;
      }
    }
    await this.run([...this.messages, { id: newId(), role: 'user', content: trimmed, at: Date.now() }]);
    return true;
  }

  /** The citizen answered the PII prompt. */
  async confirmPii(choice: 'mask' | 'send' | 'edit'): Promise<string | null> {
    const p = this.pii;
    this.pii = null;
    if (!p || choice === 'edit') return p?.text ?? null;
    await this.submit(choice === 'mask' ? maskPii(p.text, p.findings) : p.text, { skipPiiCheck: true });
    return null;
  }

  stop(): void {
    this.abort?.abort();
  }

  /** Answers the last question again, replacing the last answer. */
  async regenerate(): Promise<void> {
    if (!this.canSend) return;
    const lastUser = this.messages.findLastIndex((m) => m.role === 'user');
    if (lastUser < 0) return;
    await this.run(this.messages.slice(0, lastUser + 1));
  }

  async clear(): Promise<void> {
    this.stop();
    this.messages = [];
    await clearConversation(this.config().conversationKey);
    await this.engine?.reset();
  }

  async refreshModels(): Promise<void> {
    this.storedModels = await (await openModelStore()).list().catch(() => []);
  }

  async deleteModel(key: string): Promise<void> {
    await (await openModelStore()).delete(key);
    await this.refreshModels();
  }

  private async run(history: StoredMessage[]): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    const cfg = this.config();
    const answer: StoredMessage = { id: newId(), role: 'assistant', content: '', at: Date.now() };
    this.messages = [...history, answer];
    this.streamingId = answer.id;
    this.abort = new AbortController();
    const prompt: ChatMessage[] = [
      ...(cfg.systemPrompt ? [{ role: 'system' as const, content: cfg.systemPrompt }] : []),
      ...history.map((m) => ({ role: m.role, content: m.content })),
    ];
    let content = '';
    const update = (patch: Partial<StoredMessage>) => {
      this.messages = this.messages.map((m) => (m.id === answer.id ? { ...m, ...patch } : m));
    };
    try {
      const gen = engine.generate({
        messages: prompt,
        maxTokens: cfg.maxTokens,
        temperature: cfg.temperature,
        signal: this.abort.signal,
      });
      for (;;) {
        const r = await gen.next();
        if (r.done) {
          update({ content, finish: r.value.finishReason });
          break;
        }
        content += r.value.text;
        update({ content });
      }
    } catch (e) {
      update({ content, finish: this.abort.signal.aborted ? 'abort' : 'error' });
      if (!this.abort.signal.aborted) this.fail(e);
    } finally {
      this.streamingId = null;
      this.abort = null;
      await saveConversation(cfg.conversationKey, this.messages).catch(() => undefined);
      const done = this.messages.find((m) => m.id === answer.id);
      if (done) this.emit('dure-message', { role: 'assistant', content: done.content, finish: done.finish });
    }
  }

  /** Starts polling for the task's adapter when configured and the engine can apply adapters. */
  private startAdapterWatch(): void {
    const cfg = this.config();
    const engine = this.engine;
    if (!cfg.adapterTask || !engine) return;
    this.stopAdapterWatch();
    try {
      const server = checkOrigin(cfg.adapterServer || location.origin, [
        location.origin,
        ...cfg.allowedOrigins,
      ]);
      if (!engine.setAdapters)
        throw new LoraUnsupportedError(
          '이 실행 방식은 어댑터를 적용할 수 없어 기본 모델로 답합니다 / this backend cannot apply adapters; answering with the base model',
        );
      const setAdapters = engine.setAdapters.bind(engine);
      this.watcher = new AdapterWatcher({
        serverUrl: server.origin + server.pathname.replace(/\/+$/, ''),
        taskId: cfg.adapterTask,
        intervalMs: cfg.adapterIntervalMs,
        fetchLatest: (url, task, signal, held) =>
          fetchLatestAdapter(url, task, { signal, known: held, retry: { attempts: 2 } }),
        apply: (a) => setAdapters([{ name: `${cfg.adapterTask}@v${a.version ?? '?'}`, lora: a.lora }]),
        busy: () => this.streamingId !== null,
        onChange: (a) => {
          this.adapter = a;
          this.adapterError = null;
          this.emit('dure-adapter', a);
        },
        onError: (e) => (this.adapterError = e),
      });
      this.watcher.start();
    } catch (e) {
      this.adapterError = toErrorData(e);
    }
  }

  private stopAdapterWatch(): void {
    this.watcher?.stop();
    this.watcher = null;
    this.adapter = null;
  }

  async dispose(): Promise<void> {
    this.stop();
    this.stopAdapterWatch();
    await this.engine?.dispose();
    this.engine = null;
  }
}
