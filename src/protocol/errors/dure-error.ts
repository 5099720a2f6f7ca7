/** The base of every error Dure raises on purpose (the catalogue is ../errors.ts). */
/** Options every Dure error takes (the standard `cause`). */
export interface DureErrorOptions {
  cause?: unknown;
}

/**
 * Every error Dure raises on purpose is a `DureError` with a stable `code`, so callers branch on
 * `instanceof` or `code` instead of parsing messages. `message` is the technical detail (English);
 * `errorText(code, lang)` is what a person is shown.
 */
export class DureError extends Error {
  override name = 'DureError';
  readonly code: string;
  constructor(code: string, message: string, options?: DureErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
