/** Error classes: sdk and command line. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** A chat completion request the SDK refuses (missing messages, bad parameters). */
export class InvalidRequestError extends DureError {
  override name = 'InvalidRequestError';
  constructor(message: string, options?: DureErrorOptions) {
    super('INVALID_REQUEST', message, options);
  }
}

/** Neither WebGPU nor the WebAssembly CPU path can run the model here. */
export class NoBackendError extends DureError {
  override name = 'NoBackendError';
  constructor(message: string, options?: DureErrorOptions) {
    super('NO_BACKEND', message, options);
  }
}

/** Wrong or missing command-line arguments (exit code 2). */
export class CliArgsError extends DureError {
  override name = 'CliArgsError';
  constructor(message: string, options?: DureErrorOptions) {
    super('CLI_ARGS', message, options);
  }
}

/** An input file that is not valid UTF-8 text or is too large. */
export class CliInputError extends DureError {
  override name = 'CliInputError';
  constructor(message: string, options?: DureErrorOptions) {
    super('CLI_INPUT', message, options);
  }
}

/** A known command whose module is not part of this build. */
export class CliCommandUnavailableError extends DureError {
  override name = 'CliCommandUnavailableError';
  constructor(message: string, options?: DureErrorOptions) {
    super('CLI_COMMAND_UNAVAILABLE', message, options);
  }
}
