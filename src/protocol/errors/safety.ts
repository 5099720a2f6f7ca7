/** Error classes: PII masking. Codes and messages are catalogued in ../errors.ts. */
import { DureError } from './dure-error.ts';

/**
 * An institution's own identifier pattern (환자번호, 사건번호…) cannot be used: not a valid
 * regular expression, one that could take exponential time (nested or adjacent repetition,
 * back-references, look-arounds), one that matches empty text, or beyond the length/count caps.
 */
export class CustomPatternError extends DureError {
  override name = 'CustomPatternError';
  constructor(
    message: string,
    code:
      'CUSTOM_PATTERN_INVALID' | 'CUSTOM_PATTERN_UNSAFE' | 'CUSTOM_PATTERN_LIMIT' = 'CUSTOM_PATTERN_INVALID',
  ) {
    super(code, message);
  }
}
