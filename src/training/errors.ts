/** Typed errors of LoRA training; registered so they survive the worker boundary. */
import { TrainingUnsupportedError, AdapterMismatchError, TrainingDataError } from '../protocol/errors.ts';
export { TrainingUnsupportedError, AdapterMismatchError, TrainingDataError };
