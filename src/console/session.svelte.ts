/**
 * The console's state and behaviour outside the markup, so they are unit-tested without a DOM:
 * `$state.raw` values replaced on change, and every side effect (dataset reading, enrollment,
 * rounds) in methods the components call. The federated work itself is behind `ConsoleDriver`
 * (src/console/driver.ts adapts the round client and the training worker), so the dataset never
 * reaches this layer's network code: the driver gets records, the server gets only signed updates.
 */
import { toErrorData, type ErrorData } from '../engine/errors.ts';
import { loadDataset, type LoadedDataset, type NumberedRecord } from '../fl/dataset.ts';
import {
  compileCustomPatterns,
  type CompiledPattern,
  type CustomPattern,
} from '../safety/custom-patterns.ts';

/** Small settings kept on this device (localStorage in the page; a map in tests). */
export interface ConsolePrefs {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
}

function defaultPrefs(): ConsolePrefs {
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (ls)
    return { get: (k) => ls.getItem(k), set: (k, v) => ls.setItem(k, v), remove: (k) => ls.removeItem(k) };
  // Outside a page (tests, SSR) nothing persists; nothing here is rendered, so no reactivity.
  const m: Record<string, string> = {};
  return {
    get: (k) => m[k] ?? null,
    set: (k, v) => void (m[k] = v),
    remove: (k) => void delete m[k],
  };
}

const PATTERNS_KEY = 'dure-console-pii-patterns';
const DATASET_KEY = 'dure-console-dataset';

/** The file chosen before a reload: its name only, never its content. */
export interface ForgottenDataset {
  name: string;
  /** When it was chosen, ms since the epoch. */
  chosenAt: number;
}

export interface Identity {
  serverUrl: string;
  institutionId: string;
  name: string;
}

/**
 * What the console shows the driver doing, one phase at a time, announced as the phase starts
 * (issue #20: never "downloading" while the model loads or the validation loss is computed).
 */
export type RoundPhase =
  | 'idle'
  | 'waiting'
  | 'unassigned'
  | 'loading'
  | 'downloading'
  | 'preparing'
  | 'evaluating-before'
  | 'training'
  | 'evaluating-after'
  | 'signing'
  | 'uploading'
  | 'secure-advertise'
  | 'secure-share'
  | 'secure-mask'
  | 'secure-unmask'
  | 'secure-wait-result'
  | 'submitted'
  | 'waiting-others'
  | 'aggregating'
  | 'retrying'
  | 'done'
  | 'error';

/** Every phase, for the i18n completeness test and the Korean texts. */
export const ROUND_PHASES: readonly RoundPhase[] = [
  'idle',
  'waiting',
  'unassigned',
  'loading',
  'downloading',
  'preparing',
  'evaluating-before',
  'training',
  'evaluating-after',
  'signing',
  'uploading',
  'secure-advertise',
  'secure-share',
  'secure-mask',
  'secure-unmask',
  'secure-wait-result',
  'submitted',
  'waiting-others',
  'aggregating',
  'retrying',
  'done',
  'error',
];

export interface RoundInfo {
  taskId: string;
  taskName: string;
  round: number | null;
  roundState: string | null;
  deadline: string | null;
  /** How this task protects updates, as the server states it (absent until known). */
  protection?: TaskProtection;
}

/** Secure aggregation and the DP budget of a task. */
export interface TaskProtection {
  secureAggregation: boolean;
  dp: { epsilon: number; delta: number; epsilonSpent: number; epsilonLeft: number } | null;
}

export interface EvalPoint {
  loss: number;
  perplexity: number;
}

/** One update this browser contributed, as the server acknowledged it. */
export interface Contribution {
  taskId: string;
  round: number;
  examples: number;
  trainLoss: number;
  before: EvalPoint | null;
  after: EvalPoint | null;
  sha256: string;
  updateId: number;
  at: string;
}

/** What a driver tells the console while it takes part in rounds. */
export type DriverEvent =
  | { kind: 'round'; info: RoundInfo }
  /** `round`: the round the phase belongs to; `step`/`total` while training; `attempt` when retrying. */
  | { kind: 'phase'; phase: RoundPhase; round?: number; step?: number; total?: number; attempt?: number }
  | { kind: 'step'; step: number; total: number; loss: number }
  | { kind: 'eval'; which: 'before' | 'after'; result: EvalPoint }
  | { kind: 'contribution'; contribution: Contribution };

export interface ParticipateOptions {
  /** Scrubbed records; the driver tokenises and trains on them inside the browser. */
  train: NumberedRecord[];
  validation: NumberedRecord[];
  signal: AbortSignal;
  onEvent: (e: DriverEvent) => void;
}

export interface ConsoleDriver {
  /** The enrollment kept in this browser, if any. */
  identity(): Promise<Identity | null>;
  /** @throws {DureError} when the code is wrong, used or the server unreachable. */
  enroll(serverUrl: string, code: string): Promise<Identity>;
  forget(): Promise<void>;
  /** Contributions recorded in this browser (newest last). */
  history(): Promise<Contribution[]>;
  /** Takes part in the running task's rounds until the task ends or `signal` aborts. */
  participate(opts: ParticipateOptions): Promise<void>;
}

export class ConsoleSession {
  identity: Identity | null = $state.raw(null);
  enrolling = $state(false);
  dataset: LoadedDataset | null = $state.raw(null);
  fileName = $state('');
  reading = $state(false);
  round: RoundInfo | null = $state.raw(null);
  phase: RoundPhase = $state('idle');
  /** The round the current phase belongs to (null outside a round). */
  phaseRound: number | null = $state(null);
  /** Step k of n while training; retry attempt while retrying. */
  phaseStep: { step: number; total: number } | null = $state.raw(null);
  retryAttempt = $state(0);
  /** This round's step losses (a new round starts a new series). */
  steps: { x: number; y: number }[] = $state.raw([]);
  /** Earlier rounds' step losses, each its own series (the last few), never joined to this one. */
  pastSteps: { round: number; points: { x: number; y: number }[] }[] = $state.raw([]);
  totalSteps = $state(0);
  before: EvalPoint | null = $state.raw(null);
  after: EvalPoint | null = $state.raw(null);
  history: Contribution[] = $state.raw([]);
  error: ErrorData | null = $state.raw(null);
  /** The institution's own identifier patterns, masked like the built-in kinds. */
  customPatterns: CustomPattern[] = $state.raw([]);
  patternError: ErrorData | null = $state.raw(null);
  /**
   * A file chosen before this page was (re)opened. Its records are not kept on the device (they
   * may hold what masking missed), so staff are told to choose it again.
   */
  forgottenDataset: ForgottenDataset | null = $state.raw(null);
  /** The server address the last enrolment tried (named when it cannot be reached). */
  triedServerUrl: string | null = $state(null);
  running = $state(false);

  readonly canJoin = $derived(
    this.identity !== null && (this.dataset?.train.length ?? 0) > 0 && !this.running,
  );
  readonly roundLoss = $derived(
    this.history.filter((c) => c.after).map((c) => ({ x: c.round, y: c.after!.loss })),
  );

  private abort: AbortController | null = null;
  private file: File | null = null;
  private compiled: CompiledPattern[] = [];

  constructor(
    private readonly driver: ConsoleDriver,
    private readonly prefs: ConsolePrefs = defaultPrefs(),
  ) {}

  async init(): Promise<void> {
    this.restorePatterns();
    try {
      const seen = JSON.parse(this.prefs.get(DATASET_KEY) ?? 'null') as ForgottenDataset | null;
      if (seen && typeof seen.name === 'string' && !this.dataset) this.forgottenDataset = seen;
    } catch {
      this.prefs.remove(DATASET_KEY);
    }
    try {
      this.identity = await this.driver.identity();
      this.history = await this.driver.history();
    } catch (e) {
      this.error = toErrorData(e);
    }
  }

  async enroll(serverUrl: string, code: string): Promise<void> {
    this.error = null;
    this.enrolling = true;
    this.triedServerUrl = serverUrl.trim();
    try {
      this.identity = await this.driver.enroll(serverUrl.trim(), code.trim());
    } catch (e) {
      this.error = toErrorData(e);
    } finally {
      this.enrolling = false;
    }
  }

  async forget(): Promise<void> {
    this.leave();
    await this.driver.forget();
    this.identity = null;
  }

  /** Reads, validates, scrubs and splits the picked file, all in this page. */
  async loadFile(file: File): Promise<void> {
    this.error = null;
    this.reading = true;
    this.fileName = file.name;
    this.file = file;
    try {
      this.dataset = await loadDataset(file, { customPatterns: this.compiled });
      this.forgottenDataset = null;
      this.prefs.set(DATASET_KEY, JSON.stringify({ name: file.name, chosenAt: Date.now() }));
    } catch (e) {
      this.dataset = null;
      this.error = toErrorData(e);
    } finally {
      this.reading = false;
    }
  }

  /**
   * Replaces the institution's identifier patterns after checking every one (syntax, ReDoS
   * guards, caps); kept on this device and applied at once to the chosen file by reading it again.
   * A refused list changes nothing and says why in `patternError`.
   */
  async setCustomPatterns(list: CustomPattern[]): Promise<boolean> {
    try {
      this.compiled = compileCustomPatterns(list);
    } catch (e) {
      this.patternError = toErrorData(e);
      return false;
    }
    this.patternError = null;
    this.customPatterns = list;
    this.prefs.set(PATTERNS_KEY, JSON.stringify(list));
    if (this.file && !this.running) await this.loadFile(this.file);
    return true;
  }

  private restorePatterns(): void {
    try {
      const list = JSON.parse(this.prefs.get(PATTERNS_KEY) ?? '[]') as CustomPattern[];
      this.compiled = compileCustomPatterns(list);
      this.customPatterns = list;
    } catch (e) {
      // A stored list that no longer passes the checks is dropped, and the reason shown.
      this.patternError = toErrorData(e);
      this.prefs.remove(PATTERNS_KEY);
    }
  }

  /** Starts taking part in rounds with the current dataset. */
  async join(): Promise<void> {
    const ds = this.dataset;
    if (!this.canJoin || !ds) return;
    this.error = null;
    this.running = true;
    this.abort = new AbortController();
    try {
      await this.driver.participate({
        train: ds.train,
        validation: ds.validation,
        signal: this.abort.signal,
        onEvent: (e) => this.onEvent(e),
      });
    } catch (e) {
      if (!this.abort.signal.aborted) {
        this.error = toErrorData(e);
        this.phase = 'error';
      }
    } finally {
      this.running = false;
      this.abort = null;
      if (this.phase !== 'error' && this.phase !== 'done') this.phase = 'idle';
    }
  }

  leave(): void {
    this.abort?.abort();
  }

  /** Moves the round's results aside when `round` is a new one: nothing of one round shows as another's. */
  private startRound(round: number): void {
    const shown = this.phaseRound ?? this.round?.round ?? null;
    if (shown === round) return;
    if (shown !== null && this.steps.length > 0)
      this.pastSteps = [...this.pastSteps, { round: shown, points: this.steps }].slice(-3);
    this.steps = [];
    this.totalSteps = 0;
    this.before = null;
    this.after = null;
    this.phaseRound = round;
  }

  private onEvent(e: DriverEvent): void {
    switch (e.kind) {
      case 'round':
        // Between rounds (none open, or the task ended) keep showing the last round's results.
        if (e.info.round === null && this.round?.round != null) break;
        if (e.info.round !== null) this.startRound(e.info.round);
        // Progress events of the same round may not carry its deadline: keep the one we know.
        this.round =
          e.info.deadline === null && e.info.round === this.round?.round
            ? {
                ...e.info,
                deadline: this.round.deadline,
                protection: e.info.protection ?? this.round.protection,
              }
            : e.info;
        break;
      case 'phase':
        // A phase of a later round is the start of that round, whatever the last round event said.
        if (e.round !== undefined) {
          this.startRound(e.round);
          if (this.round && this.round.round !== e.round)
            this.round = { ...this.round, round: e.round, roundState: null, deadline: null };
          this.phaseRound = e.round;
        }
        this.phase = e.phase;
        this.phaseStep =
          e.step !== undefined && e.total !== undefined ? { step: e.step, total: e.total } : null;
        if (e.phase === 'training' && e.total !== undefined) this.totalSteps = e.total;
        this.retryAttempt = e.attempt ?? 0;
        break;
      case 'step':
        this.totalSteps = e.total;
        this.steps = [...this.steps, { x: e.step, y: e.loss }];
        break;
      case 'eval':
        if (e.which === 'before') this.before = e.result;
        else this.after = e.result;
        break;
      case 'contribution':
        // One row per task and round: under secure aggregation every receipt's updateId is 0, so
        // the id cannot tell round 2 from round 1 (found by e2e/federation-flow.spec.ts).
        this.history = [
          ...this.history.filter(
            (c) => c.taskId !== e.contribution.taskId || c.round !== e.contribution.round,
          ),
          e.contribution,
        ];
        break;
      default: {
        const never: never = e;
        throw new Error(`unknown driver event ${JSON.stringify(never)}`);
      }
    }
  }
}
