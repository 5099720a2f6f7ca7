/// <reference lib="webworker" />
/**
 * The training worker: Dure's WebGPU LoRA trainer behind comlink, so the institution console stays
 * responsive while it trains. The dataset arrives here as records, is tokenised here with the
 * model's own tokenizer and chat template, and never leaves the browser (the page only ever sends
 * the trained adapter). Errors cross as data and are rebuilt as their classes on the page.
 */
import * as Comlink from 'comlink';
import { modelChatTemplate } from '../src/engine/chat-template/fallback.ts';
import { settle as attempt, type Outcome } from '../src/engine/errors.ts';
import { requestBestDevice } from '../src/engine/gpu/device.ts';
import { readGguf } from '../src/engine/gguf/reader.ts';
import { BlobSource, MemorySource, RangeSource } from '../src/engine/gguf/sources.ts';
import type { ByteSource, GgufFile } from '../src/engine/gguf/types.ts';
import { modelConfig } from '../src/engine/model/config.ts';
import { createTokenizer, type Tokenizer } from '../src/engine/tokenizer/index.ts';
import { convertRecords, type ExampleOptions, type InstructionRecord } from '../src/training/examples.ts';
import type { ChatTemplate } from '../src/engine/chat-template/index.ts';
import type {
  EvalResult,
  LoraTensors,
  LoraTrainer,
  OptimizerOptions,
  StepResult,
  TrainExample,
} from '../src/training/api.ts';
import { TrainingDataError } from '../src/training/errors.ts';
import { protocolModelShape } from '../src/training/model-shape.ts';
import { createLoraTrainer } from '../src/training/trainer.ts';
import type {
  PreparedExamples,
  TrainingModelInfo,
  TrainingWorkerApi,
} from '../src/training/worker-client.ts';

interface Model {
  /** Read by range each time: a URL is never downloaded whole into memory. */
  source: ByteSource;
  file: GgufFile;
  tokenizer: Tokenizer;
  template: ChatTemplate;
}

let device: GPUDevice | undefined;
let adapterName = '';
let model: Model | undefined;
let trainer: LoraTrainer | undefined;

function source(input: Blob | ArrayBuffer | string): Promise<ByteSource> | ByteSource {
  if (typeof input === 'string') return RangeSource.openOrWhole(input);
  return input instanceof Blob ? new BlobSource(input) : new MemorySource(new Uint8Array(input));
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new TrainingDataError(`${what} first`);
  return v;
}

const api: TrainingWorkerApi = {
  /** Reads the base model (a URL by HTTP Range, never whole) and its tokenizer. */
  async loadModel(input: Blob | ArrayBuffer | string): Promise<Outcome<TrainingModelInfo>> {
    return attempt(async () => {
      if (!device) {
        const gpu = await requestBestDevice(self.navigator.gpu, {
          hint: 'Training needs WebGPU: use Chrome or Edge 113+ with WebGPU enabled.',
        });
        device = gpu.device;
        adapterName = gpu.description;
      }
      trainer?.dispose();
      trainer = undefined;
      const src = await source(input);
      const file = await readGguf(src);
      const cfg = modelConfig(file);
      model = {
        source: src,
        file,
        tokenizer: createTokenizer(file.metadata),
        template: modelChatTemplate(file.metadata),
      };
      return {
        architecture: cfg.arch,
        name: cfg.name,
        contextLength: cfg.contextLength,
        vocabularySize: cfg.nVocab,
        modelShape: protocolModelShape(cfg),
        adapter: adapterName,
      };
    });
  },

  /** Instruction records → examples with the model's tokenizer and chat template (answers trained). */
  async prepare(
    records: InstructionRecord[],
    maxSeqLen: number,
    options: ExampleOptions = {},
  ): Promise<Outcome<PreparedExamples>> {
    return attempt(async () => {
      const m = need(model, 'load a model');
      return convertRecords(records, m.tokenizer, m.template, maxSeqLen, options);
    });
  },

  /** Creates (or replaces) the trainer with a starting adapter. */
  async createTrainer(o: {
    adapter: LoraTensors;
    maxSeqLen: number;
    optimizer: OptimizerOptions;
  }): Promise<Outcome<{ maxSeqLen: number }>> {
    return attempt(async () => {
      const m = need(model, 'load a model');
      trainer?.dispose();
      trainer = undefined;
      trainer = await createLoraTrainer(need(device, 'load a model'), m.source, o);
      return { maxSeqLen: trainer.maxSeqLen };
    });
  },

  async setAdapter(adapter: LoraTensors): Promise<Outcome<void>> {
    return attempt(() => need(trainer, 'create a trainer').setAdapter(adapter));
  },

  async getAdapter(): Promise<Outcome<LoraTensors>> {
    return attempt(async () => {
      const a = await need(trainer, 'create a trainer').getAdapter();
      return Comlink.transfer(
        a,
        [...a.tensors.values()].map((t) => t.buffer as ArrayBuffer),
      );
    });
  },

  async step(examples: TrainExample[]): Promise<Outcome<StepResult>> {
    return attempt(() => need(trainer, 'create a trainer').step(examples));
  },

  async evaluate(examples: TrainExample[]): Promise<Outcome<EvalResult>> {
    return attempt(() => need(trainer, 'create a trainer').evaluate(examples));
  },

  async gradients(
    examples: TrainExample[],
  ): Promise<Outcome<{ loss: number; tokens: number; grads: Map<string, Float32Array> }>> {
    return attempt(() => need(trainer, 'create a trainer').gradients(examples));
  },

  async disposeTrainer(): Promise<void> {
    trainer?.dispose();
    trainer = undefined;
  },
};

Comlink.expose(api);
