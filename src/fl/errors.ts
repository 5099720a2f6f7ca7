/**
 * Typed errors of the federated round client (src/fl/round-client.ts), its stores and the widget's
 * adapter feed. Each has a stable `code` and is registered so it survives worker boundaries.
 */
export {
  NotEnrolledError,
  ServerRefusedError,
  NetworkError,
  AdapterIntegrityError,
  TrainerContractError,
  ClientStoreError,
  LocalDataError,
  RoundAbortedError,
} from '../protocol/errors.ts';
