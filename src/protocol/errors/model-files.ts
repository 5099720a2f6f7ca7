/** Error classes: model download and storage. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** The downloaded bytes do not hash to the configured SHA-256; nothing was kept. */
export class ModelIntegrityError extends DureError {
  override name = 'ModelIntegrityError';
  constructor(message: string, options?: DureErrorOptions) {
    super('MODEL_INTEGRITY', message, options);
  }
}

/** The browser will not give the site enough storage for the model. */
export class ModelQuotaError extends DureError {
  override name = 'ModelQuotaError';
  constructor(message: string, options?: DureErrorOptions) {
    super('MODEL_QUOTA', message, options);
  }
}

/** The server or network failed in a way retries did not fix. */
export class ModelDownloadError extends DureError {
  override name = 'ModelDownloadError';
  constructor(message: string, options?: DureErrorOptions) {
    super('MODEL_DOWNLOAD', message, options);
  }
}

/** The model URL points outside the origins the portal allowed (no CDN, no third party). */
export class ModelOriginError extends DureError {
  override name = 'ModelOriginError';
  constructor(message: string, options?: DureErrorOptions) {
    super('MODEL_ORIGIN', message, options);
  }
}

/** The model file could not be opened (missing, unreadable, a directory). */
export class FileOpenError extends DureError {
  override name = 'FileOpenError';
  constructor(message: string, options?: DureErrorOptions) {
    super('FILE_OPEN', message, options);
  }
}

/** The model server ignores HTTP Range requests, so the model cannot be read piece by piece. */
export class ModelRangeUnsupportedError extends DureError {
  override name = 'ModelRangeUnsupportedError';
  constructor(message: string, options?: DureErrorOptions) {
    super('MODEL_RANGE_UNSUPPORTED', message, options);
  }
}

/** The model file changed on the server (ETag or length) while it was being read. */
export class ModelChangedError extends DureError {
  override name = 'ModelChangedError';
  constructor(message: string, options?: DureErrorOptions) {
    super('MODEL_CHANGED', message, options);
  }
}
