/**
 * The page side of the training worker. `TrainingWorker` loads the base model and prepares
 * examples in the worker; `trainer()` returns a `LoraTrainer` that UI code (and the round client)
 * cannot tell apart from the in-worker one. `TrainingWorkerApi` is the contract
 * workers/training.worker.ts implements; the caller starts the worker (workers/spawn.ts).
 */
import * as Comlink from 'comlink';
import { unwrapOutcome as unwrap, type Outcome } from '../engine/errors.ts';
import type { ModelShape } from '../protocol/lora.ts';
import type { ExampleOptions, InstructionRecord } from './examples.ts';
import type {
  EvalResult,
  LoraTensors,
  LoraTrainer,
  OptimizerOptions,
  StepResult,
  TrainExample,
} from './api.ts';

/** The base model as the trainer sees it. */
export interface TrainingModelInfo {
  architecture: string;
  name: string;
  contextLength: number;
  vocabularySize: number;
  modelShape: ModelShape;
  /** The WebGPU adapter the trainer runs on. */
  adapter: string;
}

/** Records turned into examples; indices of records cut to fit or left out. */
export interface PreparedExamples {
  examples: TrainExample[];
  truncated: number[];
  skipped: number[];
}

/** What the training worker answers; every call that can fail returns an `Outcome`. */
export interface TrainingWorkerApi {
  /** Reads the base model (a URL is fetched once, as a Blob) and its tokenizer. */
  loadModel(input: Blob | ArrayBuffer | string): Promise<Outcome<TrainingModelInfo>>;
  /** Instruction records → examples with the model's tokenizer and chat template. */
  prepare(
    records: InstructionRecord[],
    maxSeqLen: number,
    options?: ExampleOptions,
  ): Promise<Outcome<PreparedExamples>>;
  /** Creates (or replaces) the trainer with a starting adapter. */
  createTrainer(o: {
    adapter: LoraTensors;
    maxSeqLen: number;
    optimizer: OptimizerOptions;
  }): Promise<Outcome<{ maxSeqLen: number }>>;
  setAdapter(adapter: LoraTensors): Promise<Outcome<void>>;
  getAdapter(): Promise<Outcome<LoraTensors>>;
  step(examples: TrainExample[]): Promise<Outcome<StepResult>>;
  evaluate(examples: TrainExample[]): Promise<Outcome<EvalResult>>;
  gradients(
    examples: TrainExample[],
  ): Promise<Outcome<{ loss: number; tokens: number; grads: Map<string, Float32Array> }>>;
  disposeTrainer(): Promise<void>;
}

export class TrainingWorker {
  readonly #worker: Worker;
  readonly #api: Comlink.Remote<TrainingWorkerApi>;

  /** @param worker a started training worker (`spawnTrainingWorker()` from workers/spawn.ts). */
  constructor(worker: Worker) {
    this.#worker = worker;
    this.#api = Comlink.wrap<TrainingWorkerApi>(this.#worker);
  }

  /** @throws {import('../engine/errors.ts').DureError} subclasses: no WebGPU, corrupt GGUF… */
  async loadModel(model: Blob | ArrayBuffer | string): Promise<TrainingModelInfo> {
    return unwrap(await this.#api.loadModel(model));
  }

  /** Tokenises records in the worker (prompt masked, answer trained). */
  async prepare(
    records: InstructionRecord[],
    maxSeqLen: number,
    options: ExampleOptions = {},
  ): Promise<PreparedExamples> {
    return unwrap(await this.#api.prepare(records, maxSeqLen, options));
  }

  /** Creates the worker's trainer and returns a handle to it. */
  async trainer(o: {
    adapter: LoraTensors;
    maxSeqLen: number;
    optimizer: OptimizerOptions;
  }): Promise<LoraTrainer> {
    const { maxSeqLen } = unwrap(await this.#api.createTrainer(o));
    return new WorkerLoraTrainer(this.#api, maxSeqLen);
  }

  terminate(): void {
    this.#worker.terminate();
  }
}

class WorkerLoraTrainer implements LoraTrainer {
  constructor(
    readonly api: Comlink.Remote<TrainingWorkerApi>,
    readonly maxSeqLen: number,
  ) {}

  async setAdapter(adapter: LoraTensors): Promise<void> {
    unwrap(await this.api.setAdapter(adapter));
  }

  async getAdapter(): Promise<LoraTensors> {
    return unwrap(await this.api.getAdapter());
  }

  async step(examples: TrainExample[]): Promise<StepResult> {
    return unwrap(await this.api.step(examples));
  }

  async gradients(
    examples: TrainExample[],
  ): Promise<{ loss: number; tokens: number; grads: Map<string, Float32Array> }> {
    return unwrap(await this.api.gradients(examples));
  }

  async evaluate(examples: TrainExample[]): Promise<EvalResult> {
    return unwrap(await this.api.evaluate(examples));
  }

  dispose(): void {
    void this.api.disposeTrainer();
  }
}
