/**
 * Errors the federated server raises on purpose. Each maps to one HTTP status and a stable
 * `code`, so clients branch on `code` and the audit log records the reason.
 */
export {
  FederatedError,
  AuthError,
  NotFoundError,
  ConflictError,
  UpdateRejectedError,
  StorageError,
  ServerStartError,
} from '../../src/protocol/errors.ts';
