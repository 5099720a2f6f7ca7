/**
 * The widget's state and behaviour, outside the markup so the component only renders: messages as
 * `$state.raw` arrays replaced on each change, derived flags, and every side effect (engine,
 * IndexedDB, events) in methods the component calls.
 */
import type { ChatEngine, ModelInfo } from '../engine/api.ts';
import {
  ContextOverflowError,
  LoraUnsupportedError,
  toErrorData,
  type ErrorData,
} from '../protocol/errors.ts';
import { fetchLatestAdapter } from '../fl/adapter-feed.ts';
import { adapterServerUrl, checkOrigin } from '../model-manager/download.ts';
import { openModelStore, type StoredModel } from '../model-manager/store.ts';
import { startEngine, type DureProgress } from '../sdk/runtime.ts';
import { detectPii, maskPii, type PiiFinding } from '../safety/pii.ts';
import { adapterPin, AdapterWatcher, type ActiveAdapter } from './adapter-watch.ts';
import type { BackendDecision } from './backend.ts';
import { absoluteUrl } from './format.ts';
import { clearConversation, loadConversation, saveConversation, type StoredMessage } from './history.ts';
import { dropBrokenTail, estimateChatTokens } from '../answer/prompt-fit.ts';
import {
  finishAnswer,
  fitGroundedPrompt,
  planAnswer,
  withoutRefusedTurns,
  type AnswerLang,
  type AnswerPlan,
  type GroundedAnswer,
} from '../answer/grounded-answer.ts';
import { ruleGuard } from '../guard/rule-guard.ts';
import { Bm25Retriever, type Retriever } from '../knowledge/retriever.ts';
import { loadKnowledgeBase, resolveCitationUrl } from './kb-loader.ts';
import { makeFeedbackRecord, type FeedbackLabel, type FeedbackRecord } from '../feedback/record.ts';
import {
  clearFeedback,
  countFeedback,
  exportFeedbackFile,
  loadFeedback,
  saveFeedback,
} from './feedback-store.ts';

export type Phase = 'idle' | 'probe' | 'download' | 'load' | 'ready' | 'error';

export interface WidgetConfig {
  model: string;
  sha256: string;
  systemPrompt: string;
  allowedOrigins: string[];
  maxTokens: number;
  temperature: number;
  /** The model file's size in bytes as the portal states it (`size` attribute); 0: not stated. */
  size: number;
  conversationKey: string;
  backend: 'auto' | 'webgpu' | 'wasm-cpu';
  /**
   * Hot-load the newest public global adapter of this federated task, polled from
   * `adapterServer` (trusted for adapters by being named here; default: the page's origin). Empty: off.
   */
  adapterTask: string;
  adapterServer: string;
  /** `adapter-version`: '' or `stable` follows the stable channel; digits pin a published version. */
  adapterVersion: string;
  adapterIntervalMs: number;
  /** The portal's knowledge base (kb.json URL); empty: answers are not grounded. */
  kb: string;
  /** Pinned SHA-256 of the knowledge base's passages (optional, like `sha256` for the model). */
  kbSha256: string;
  lang: AnswerLang;
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
  /** A question asked before the model was ready; sent as soon as it is. */
  queued: string | null = $state(null);
  /** A question handed back to the input box (too long for the model); the component takes it. */
  returned: string | null = $state(null);
  /**
   * The model download's size in bytes before it starts (the `size` attribute, a partial copy's
   * announced total, or a HEAD request); 0 while unknown.
   */
  downloadSize = $state(0);
  /** The global adapter the engine applies now (null: the base model). */
  adapter: ActiveAdapter | null = $state.raw(null);
  adapterError: ErrorData | null = $state.raw(null);
  /** The citizen's labels on this conversation's answers, by answer id (this device only). */
  feedback: Record<string, FeedbackRecord> = $state.raw({});
  /** Labels kept on this device, all conversations. */
  feedbackCount = $state(0);

  readonly generating = $derived(this.streamingId !== null);
  readonly canSend = $derived(this.phase === 'ready' && this.streamingId === null);
  readonly lastAssistant = $derived(this.messages.findLast((m) => m.role === 'assistant') ?? null);
  /** The last question has no answer (its answer failed): it can be asked again. */
  readonly unanswered = $derived(this.messages.at(-1)?.role === 'user');

  private engine: ChatEngine | null = null;
  private loadedUrl = '';
  private abort: AbortController | null = null;
  private starting: Promise<void> | null = null;
  private watcher: AdapterWatcher | null = null;
  /** The loaded knowledge base for `kbFor` (null: none configured). */
  private knowledge: Promise<{ retriever: Retriever; url: string; sha256: string } | null> | null = null;
  private kbFor = '';

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
    await this.refreshFeedback();
    // Fetched early so the first question finds it; a failure is reported when it is needed.
    void this.loadKnowledge().catch(() => undefined);
    await this.refreshModels();
    if (this.engine) return;
    const stored = this.storedModels.some((m) => m.meta.url === url && m.meta.complete);
    if (!cfg.model) return;
    // Before the download too: a server that compresses the model sends no length with it.
    if (!stored) await this.lookupSize(url);
    if (autoload || stored) await this.start();
  }

  /**
   * What the start button says the download weighs: the portal's `size` attribute, else the total
   * a partial copy was announced with, else a HEAD request (its Content-Length, unless the server
   * compresses: that length is not the file's).
   */
  private async lookupSize(url: string): Promise<void> {
    const cfg = this.config();
    const partial = this.storedModels.find((m) => m.meta.url === url && m.meta.totalBytes > 0);
    let size = cfg.size > 0 ? cfg.size : (partial?.meta.totalBytes ?? 0);
    if (size === 0) {
      try {
        const res = await fetch(checkOrigin(url, [location.origin, ...cfg.allowedOrigins]), {
          method: 'HEAD',
          cache: 'no-store',
          credentials: 'same-origin',
          signal: AbortSignal.timeout(5000),
        });
        const n = Number(res.headers.get('content-length'));
        if (res.ok && !res.headers.get('content-encoding') && Number.isSafeInteger(n)) size = n;
      } catch {
        // Offline or refused: the button just does not say the size; the download reports why.
      }
    }
    // The portal may have pointed the element elsewhere meanwhile.
    if (absoluteUrl(this.config().model || '.') === url) this.downloadSize = Math.max(0, size);
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
      return;
    }
    const q = this.queued;
    this.queued = null;
    if (q) void this.submit(q, { skipPiiCheck: true });
  }

  /** Shows an error that leaves the model's state as it is (feedback storage). */
  private report(e: unknown): void {
    this.error = toErrorData(e);
    this.emit('dure-error', this.error);
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
    if (!trimmed || !this.canAsk()) return false;
    if (!opts.skipPiiCheck) {
      const findings = detectPii(trimmed);
      if (findings.length > 0) {
        this.pii = { text: trimmed, findings };
        return false;
      }
    }
    if (this.phase !== 'ready') {
      // Refusals and out-of-scope questions need no model: answered at once, nothing downloaded.
      if (await this.declineEarly(trimmed)) return true;
      // Asked before the model is there: start it (as the start button does) and answer when ready.
      this.queued = trimmed;
      void this.start();
      return true;
    }
    return this.run([...this.messages, { id: newId(), role: 'user', content: trimmed, at: Date.now() }]);
  }

  /**
   * A question can be taken now: answered at once when the model is ready, or queued while it
   * starts (there is a model to start and no answer is being written).
   */
  canAsk(): boolean {
    return this.streamingId === null && (this.phase === 'ready' || this.config().model !== '');
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

  /** The knowledge base's retriever, loaded once per `kb` URL; null when none is configured. */
  private loadKnowledge(): Promise<{ retriever: Retriever; url: string; sha256: string } | null> {
    const cfg = this.config();
    if (this.knowledge && this.kbFor === cfg.kb) return this.knowledge;
    this.kbFor = cfg.kb;
    this.knowledge = !cfg.kb
      ? Promise.resolve(null)
      : loadKnowledgeBase(cfg.kb, {
          ...(cfg.kbSha256 ? { sha256: cfg.kbSha256 } : {}),
          allowedOrigins: cfg.allowedOrigins,
        }).then((k) => ({ retriever: new Bm25Retriever(k.kb.passages), url: k.url, sha256: k.kb.sha256 }));
    // A failed load is tried again on the next question (the network may be back).
    this.knowledge.catch(() => (this.knowledge = null));
    return this.knowledge;
  }

  /** Guard and retrieval for `question` (the same steps `dure ask` takes). */
  private async plan(question: string): Promise<{ plan: AnswerPlan; kbUrl: string }> {
    const cfg = this.config();
    const k = await this.loadKnowledge();
    const plan = await planAnswer(question, {
      retriever: k?.retriever ?? null,
      guard: ruleGuard,
      systemPrompt: cfg.systemPrompt,
      lang: cfg.lang,
    });
    return { plan, kbUrl: k?.url ?? '' };
  }

  /** Adds a question and its fixed answer (no model involved). */
  private async addDeclined(history: StoredMessage[], a: GroundedAnswer): Promise<void> {
    const cfg = this.config();
    const answer: StoredMessage = {
      id: newId(),
      role: 'assistant',
      content: a.content,
      finish: 'stop',
      at: Date.now(),
      citations: [],
      refused: true,
      refusalReason: a.refusalReason,
    };
    this.messages = [...history, answer];
    await saveConversation(cfg.conversationKey, this.messages).catch(() => undefined);
    this.emitAnswer(answer);
  }

  /** Before the model is ready: answers a refused or out-of-scope question at once. */
  private async declineEarly(question: string): Promise<boolean> {
    let planned;
    try {
      planned = await this.plan(question);
    } catch {
      // The knowledge base is not there yet: the question waits for the model like any other.
      return false;
    }
    if (planned.plan.kind !== 'decline') return false;
    await this.addDeclined(
      [...this.messages, { id: newId(), role: 'user', content: question, at: Date.now() }],
      planned.plan.answer,
    );
    return true;
  }

  private emitAnswer(m: StoredMessage): void {
    this.emit('dure-message', {
      role: 'assistant',
      content: m.content,
      finish: m.finish,
      citations: m.citations ?? [],
      refused: m.refused ?? false,
      refusal_reason: m.refusalReason ?? null,
    });
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
    this.queued = null;
    this.messages = [];
    await clearConversation(this.config().conversationKey);
    await this.engine?.reset();
  }

  private async refreshFeedback(): Promise<void> {
    const key = this.config().conversationKey;
    this.feedback = await loadFeedback(key).catch(() => ({}));
    this.feedbackCount = await countFeedback().catch(() => 0);
  }

  /**
   * Labels an answer (and keeps the citizen's correction) on this device only: IndexedDB, no
   * request. Labelling again replaces the label but keeps the record's id, so an institution that
   * loads two exports counts it once.
   */
  async rate(answerId: string, label: FeedbackLabel, correction?: string): Promise<void> {
    const i = this.messages.findIndex((m) => m.id === answerId);
    const answer = this.messages[i];
    if (!answer || answer.role !== 'assistant') return;
    const question = this.messages.slice(0, i).findLast((m) => m.role === 'user')?.content ?? '';
    const cfg = this.config();
    const previous = this.feedback[answerId];
    const kb = await this.knowledge?.catch(() => null);
    const record = makeFeedbackRecord(
      {
        label,
        question,
        answer: answer.content,
        citations: answer.citations ?? [],
        // A new label keeps the correction written before, unless the answer is now called correct.
        ...(correction !== undefined
          ? { correction }
          : previous?.correction && label !== 'correct'
            ? { correction: previous.correction }
            : {}),
        model: {
          name: this.info?.name || (cfg.model ? (absoluteUrl(cfg.model).split('/').pop() ?? '') : ''),
          sha256: cfg.sha256,
        },
        kbSha256: kb?.sha256 ?? '',
      },
      previous ? { id: previous.id } : {},
    );
    this.feedback = { ...this.feedback, [answerId]: record };
    try {
      await saveFeedback({ answerId, conversationKey: cfg.conversationKey, record });
      this.feedbackCount = await countFeedback();
    } catch (e) {
      this.report(e);
    }
  }

  /** The export file (name and text); the caller downloads it on the citizen's click. */
  exportFeedback(): Promise<{ name: string; text: string }> {
    return exportFeedbackFile();
  }

  /** Deletes every label kept on this device. */
  async clearFeedback(): Promise<void> {
    try {
      await clearFeedback();
    } catch (e) {
      this.report(e);
    }
    await this.refreshFeedback();
  }

  async refreshModels(): Promise<void> {
    this.storedModels = await (await openModelStore()).list().catch(() => []);
  }

  async deleteModel(key: string): Promise<void> {
    await (await openModelStore()).delete(key);
    await this.refreshModels();
  }

  /**
   * Answers the last question of `history`. The prompt is fitted to the context first
   * (prompt-fit.ts). A failed answer is not kept as an empty bubble (nor saved); the question stays
   * and can be asked again. A question too long for the model goes back to the input box.
   * Returns false when nothing was answered.
   */
  private async run(history: StoredMessage[]): Promise<boolean> {
    const engine = this.engine;
    if (!engine) return false;
    const cfg = this.config();
    const answer: StoredMessage = { id: newId(), role: 'assistant', content: '', at: Date.now() };
    this.messages = [...history, answer];
    this.streamingId = answer.id;
    this.error = null;
    const abort = (this.abort = new AbortController());
    let content = '';
    let finish: StoredMessage['finish'];
    const update = (patch: Partial<StoredMessage>) => {
      this.messages = this.messages.map((m) => (m.id === answer.id ? { ...m, ...patch } : m));
    };
    try {
      const question = history.at(-1)?.content ?? '';
      const { plan, kbUrl } = await this.plan(question);
      if (plan.kind === 'decline') {
        // Refused or out of scope: the fixed message, and no generation.
        this.messages = history;
        this.streamingId = null;
        await this.addDeclined(history, plan.answer);
        return true;
      }
      const fit = await fitGroundedPrompt({
        plan,
        history: withoutRefusedTurns(history),
        contextLength: this.info?.contextLength ?? 2048,
        maxTokens: cfg.maxTokens,
        countTokens: engine.countTokens?.bind(engine) ?? estimateChatTokens,
        lang: cfg.lang,
      });
      const gen = engine.generate({
        messages: fit.messages,
        maxTokens: fit.maxTokens,
        temperature: cfg.temperature,
        signal: abort.signal,
      });
      for (;;) {
        const r = await gen.next();
        if (r.done) {
          finish = r.value.finishReason;
          break;
        }
        content += r.value.text;
        update({ content });
      }
      // Whole characters only, whichever engine wrote the answer; then the output check and the
      // citations (they appear when the answer ends).
      const grounded = finishAnswer(plan, fit.passages, dropBrokenTail(content), {
        guard: ruleGuard,
        lang: cfg.lang,
      });
      update({
        content: grounded.content,
        finish,
        citations: grounded.citations.map((c) => {
          const url = resolveCitationUrl(c.url, kbUrl);
          return { ...c, ...(url ? { url } : {}) };
        }),
        ...(grounded.refused ? { refused: true, refusalReason: grounded.refusalReason } : {}),
      });
    } catch (e) {
      content = dropBrokenTail(content);
      if (abort.signal.aborted) {
        update({ content, finish: 'abort' });
      } else if (e instanceof ContextOverflowError && content === '') {
        // The question alone does not fit: hand it back to be shortened.
        const question = history.at(-1);
        this.messages = this.messages.filter((m) => m.id !== answer.id && m.id !== question?.id);
        this.returned = question?.content ?? null;
        this.fail(e);
      } else {
        // Keep what was written (marked as failed); an empty answer is not kept at all.
        this.messages =
          content === ''
            ? this.messages.filter((m) => m.id !== answer.id)
            : this.messages.map((m) => (m.id === answer.id ? { ...m, content, finish: 'error' } : m));
        this.fail(e);
      }
    } finally {
      this.streamingId = null;
      this.abort = null;
      await saveConversation(cfg.conversationKey, this.messages).catch(() => undefined);
      const done = this.messages.find((m) => m.id === answer.id);
      if (done) this.emitAnswer(done);
    }
    return this.messages.some((m) => m.id === answer.id);
  }

  /** Starts polling for the task's adapter when configured and the engine can apply adapters. */
  private startAdapterWatch(): void {
    const cfg = this.config();
    const engine = this.engine;
    if (!cfg.adapterTask || !engine) return;
    this.stopAdapterWatch();
    try {
      // The adapter-server attribute's own origin is trusted for adapters (not for models).
      const server = adapterServerUrl(cfg.adapterServer || location.origin);
      if (!engine.setAdapters)
        throw new LoraUnsupportedError(
          '이 실행 방식은 어댑터를 적용할 수 없어 기본 모델로 답합니다 / this backend cannot apply adapters; answering with the base model',
        );
      const setAdapters = engine.setAdapters.bind(engine);
      const pin = adapterPin(cfg.adapterVersion);
      this.watcher = new AdapterWatcher({
        serverUrl: server.origin + server.pathname.replace(/\/+$/, ''),
        taskId: cfg.adapterTask,
        intervalMs: cfg.adapterIntervalMs,
        fetchLatest: (url, task, signal, held) =>
          fetchLatestAdapter(url, task, { signal, known: held, retry: { attempts: 2 }, pin }),
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
