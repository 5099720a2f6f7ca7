/** Error classes: citizens' answer feedback and its export files (issue 17 item 5). Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/**
 * A feedback export that cannot be read as one: not a Dure feedback file, a version this build
 * does not know, or larger than the console accepts. Single malformed records inside a readable
 * file are skipped and reported, not thrown.
 */
export class FeedbackFileError extends DureError {
  override name = 'FeedbackFileError';
  constructor(
    message: string,
    code: 'FEEDBACK_FORMAT' | 'FEEDBACK_VERSION' | 'FEEDBACK_LIMIT' = 'FEEDBACK_FORMAT',
    options?: DureErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** The widget could not keep or read feedback on this device (IndexedDB refused or full). */
export class FeedbackStoreError extends DureError {
  override name = 'FeedbackStoreError';
  constructor(message: string, options?: DureErrorOptions) {
    super('FEEDBACK_STORE', message, options);
  }
}
