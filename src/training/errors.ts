/** Typed errors of LoRA training; registered so they survive the worker boundary. */
export { TrainingUnsupportedError, AdapterMismatchError, TrainingDataError } from '../protocol/errors.ts';
