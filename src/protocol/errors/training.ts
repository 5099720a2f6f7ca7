/** Error classes: lora adapters and training. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** An adapter is malformed or does not fit the loaded model (names, shapes, values, sizes). */
export class LoraAdapterError extends DureError {
  override name = 'LoraAdapterError';
  constructor(message: string, options?: DureErrorOptions) {
    super('LORA_ADAPTER', message, options);
  }
}

/** The running backend cannot apply adapters (the wllama CPU fallback). */
export class LoraUnsupportedError extends DureError {
  override name = 'LoraUnsupportedError';
  constructor(message: string, options?: DureErrorOptions) {
    super('LORA_UNSUPPORTED', message, options);
  }
}

/** The base model's architecture or shape has no training path (yet). */
export class TrainingUnsupportedError extends DureError {
  override name = 'TrainingUnsupportedError';
  constructor(message: string, options?: DureErrorOptions) {
    super('TRAINING_UNSUPPORTED', message, options);
  }
}

/** An adapter does not fit the trainer (names, shapes, rank, targets, non-finite values). */
export class AdapterMismatchError extends DureError {
  override name = 'AdapterMismatchError';
  constructor(message: string, options?: DureErrorOptions) {
    super('ADAPTER_MISMATCH', message, options);
  }
}

/** A training example is unusable (too long, ids outside the vocabulary, nothing to learn). */
export class TrainingDataError extends DureError {
  override name = 'TrainingDataError';
  constructor(message: string, options?: DureErrorOptions) {
    super('TRAINING_DATA', message, options);
  }
}

/** A record cannot become a training example (no answer, too long for the model). */
export class TrainExampleError extends DureError {
  override name = 'TrainExampleError';
  constructor(message: string, options?: DureErrorOptions) {
    super('TRAIN_EXAMPLE', message, options);
  }
}
