/** Error classes: knowledge base (kb.json and its source documents). Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/**
 * A kb.json that is not a Dure knowledge base: not JSON, an unknown `format`, a field of the
 * wrong type, or sizes past the limits a browser should accept.
 */
export class KnowledgeBaseFormatError extends DureError {
  override name = 'KnowledgeBaseFormatError';
  constructor(
    message: string,
    code: 'KB_FORMAT' | 'KB_VERSION' | 'KB_LIMIT' = 'KB_FORMAT',
    options?: DureErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** The passages of a kb.json do not hash to the SHA-256 it (or the portal's configuration) names. */
export class KnowledgeBaseIntegrityError extends DureError {
  override name = 'KnowledgeBaseIntegrityError';
  constructor(message: string, options?: DureErrorOptions) {
    super('KB_INTEGRITY', message, options);
  }
}

/** A source document given to `dure kb build` cannot be read as its kind (front matter, JSON records, size). */
export class KnowledgeSourceError extends DureError {
  override name = 'KnowledgeSourceError';
  constructor(message: string, options?: DureErrorOptions) {
    super('KB_SOURCE', message, options);
  }
}

/** The widget or SDK could not download the portal's kb.json and has no verified copy stored. */
export class KnowledgeBaseDownloadError extends DureError {
  override name = 'KnowledgeBaseDownloadError';
  constructor(message: string, options?: DureErrorOptions) {
    super('KB_DOWNLOAD', message, options);
  }
}
