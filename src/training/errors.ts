/** Typed errors of LoRA training; registered so they survive the worker boundary. */
import { DureError, registerErrorClass } from '../engine/errors.ts';

/** The base model's architecture or shape has no training path (yet). */
export class TrainingUnsupportedError extends DureError {
  override name = 'TrainingUnsupportedError';
  constructor(message: string) {
    super('TRAINING_UNSUPPORTED', message);
  }
}

/** An adapter does not fit the trainer (names, shapes, rank, targets, non-finite values). */
export class AdapterMismatchError extends DureError {
  override name = 'AdapterMismatchError';
  constructor(message: string) {
    super('ADAPTER_MISMATCH', message);
  }
}

/** A training example is unusable (too long, ids outside the vocabulary, nothing to learn). */
export class TrainingDataError extends DureError {
  override name = 'TrainingDataError';
  constructor(message: string) {
    super('TRAINING_DATA', message);
  }
}

registerErrorClass('TrainingUnsupportedError', TrainingUnsupportedError);
registerErrorClass('AdapterMismatchError', AdapterMismatchError);
registerErrorClass('TrainingDataError', TrainingDataError);
