/**
 * The page side of workers/training.worker.ts. `TrainingWorker` loads the base model and prepares
 * examples in the worker; `trainer()` returns a `LoraTrainer` that UI code (and the round client)
 * cannot tell apart from the in-worker one.
 */
import * as Comlink from 'comlink';
import { fromErrorData } from '../engine/errors.ts';
import type { ExampleOptions, InstructionRecord } from './examples.ts';
import type { Outcome } from '../../workers/inference.worker.ts';
import type {
  PreparedExamples,
  TrainingModelInfo,
  TrainingWorkerApi,
} from '../../workers/training.worker.ts';
import type {
  EvalResult,
  LoraTensors,
  LoraTrainer,
  OptimizerOptions,
  StepResult,
  TrainExample,
} from './api.ts';

function unwrap<T>(o: Outcome<T>): T {
  if (!o.ok) throw fromErrorData(o.error);
  return o.value;
}

export type { PreparedExamples, TrainingModelInfo };

export class TrainingWorker {
  readonly #worker: Worker;
  readonly #api: Comlink.Remote<TrainingWorkerApi>;

  constructor(worker?: Worker) {
    this.#worker =
      worker ?? new Worker(new URL('../../workers/training.worker.ts', import.meta.url), { type: 'module' });
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
