/** Error classes: federated server. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** An error the federated server answers with an HTTP status. */
export class FederatedError extends DureError {
  override name = 'FederatedError';
  // The HTTP status the server answers with.
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: DureErrorOptions) {
    super(code, message, options);
    this.status = status;
  }
}

/** Authentication failed (unknown, revoked, unsigned, stale or replayed request, bad enrolment code). */
export class AuthError extends FederatedError {
  override name = 'AuthError';
  constructor(message: string, code = 'UNAUTHORIZED', status = 401) {
    super(code, status, message);
  }
}

/** The addressed task, round, institution or adapter does not exist. */
export class NotFoundError extends FederatedError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super('NOT_FOUND', 404, message);
  }
}

/** The request conflicts with the current state (late or duplicate update, wrong round, revoked). */
export class ConflictError extends FederatedError {
  override name = 'ConflictError';
  constructor(message: string, code = 'CONFLICT') {
    super(code, 409, message);
  }
}

/** An uploaded update failed validation. */
export class UpdateRejectedError extends FederatedError {
  override name = 'UpdateRejectedError';
  constructor(message: string, code = 'UPDATE_REJECTED', status = 422) {
    super(code, status, message);
  }
}

/** The server could not read or write its database or blob storage. */
export class StorageError extends DureError {
  override name = 'StorageError';
  constructor(message: string, options?: DureErrorOptions) {
    super('STORAGE', message, options);
  }
}

/**
 * A blob at rest could not be opened: its authentication tag does not verify (tampered, truncated,
 * or sealed under another key), or the blob key is missing or malformed.
 */
export class BlobIntegrityError extends DureError {
  override name = 'BlobIntegrityError';
  constructor(message: string, code = 'BLOB_TAMPERED', options?: DureErrorOptions) {
    super(code, message, options);
  }
}

/**
 * The server will not start as configured: plain HTTP on a non-loopback address without
 * DURE_ALLOW_PLAIN_HTTP=1, a TLS certificate or key it cannot read, or a PGlite data directory
 * another live process holds (DATA_DIR_IN_USE).
 */
export class ServerStartError extends DureError {
  override name = 'ServerStartError';
  constructor(message: string, code = 'PLAIN_HTTP_REFUSED', options?: DureErrorOptions) {
    super(code, message, options);
  }
}
