/**
 * Errors the federated server raises on purpose. Each maps to one HTTP status and a stable
 * `code`, so clients branch on `code` and the audit log records the reason.
 */
import { DureError, registerErrorClass } from '../../src/engine/errors.ts';

/** A request the server refuses; `status` is the HTTP status it answers with. */
export class FederatedError extends DureError {
  override name = 'FederatedError';
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/** Missing, wrong, stale, replayed or revoked credentials. */
export class AuthError extends FederatedError {
  override name = 'AuthError';
  constructor(message: string, code = 'UNAUTHORIZED', status = 401) {
    super(code, status, message);
  }
}

/** The referenced task, round, institution or adapter does not exist. */
export class NotFoundError extends FederatedError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super('NOT_FOUND', 404, message);
  }
}

/** The request is valid but conflicts with the current state (late, duplicate, wrong state). */
export class ConflictError extends FederatedError {
  override name = 'ConflictError';
  constructor(message: string, code = 'CONFLICT') {
    super(code, 409, message);
  }
}

/** An update was refused by validation; `code` names the reason (recorded in the audit log). */
export class UpdateRejectedError extends FederatedError {
  override name = 'UpdateRejectedError';
  constructor(message: string, code = 'UPDATE_REJECTED', status = 422) {
    super(code, status, message);
  }
}

/** The storage layer failed (migration, connection, PostgreSQL start-up). */
export class StorageError extends DureError {
  override name = 'StorageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORAGE', message, options);
  }
}

registerErrorClass('AuthError', AuthError);
registerErrorClass('NotFoundError', NotFoundError);
registerErrorClass('ConflictError', ConflictError);
registerErrorClass('UpdateRejectedError', UpdateRejectedError);
registerErrorClass('StorageError', StorageError);
