/** Error classes: round client and stores. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** The client has no enrolled identity for this server (enroll with the one-time code first). */
export class NotEnrolledError extends DureError {
  override name = 'NotEnrolledError';
  constructor(message: string, options?: DureErrorOptions) {
    super('NOT_ENROLLED', message, options);
  }
}

/** The server refused a request (HTTP 4xx other than 429). Not retried: the same request would be refused again. `serverCode` is the server's stable reason (e.g. `LATE_UPDATE`, `NORM_EXCEEDED`, `BAD_ENROLLMENT_CODE`), `status` the HTTP status. */
export class ServerRefusedError extends DureError {
  override name = 'ServerRefusedError';
  readonly status: number;
  readonly serverCode: string;
  constructor(message: string, status = 0, serverCode = 'UNKNOWN') {
    super('SERVER_REFUSED', message);
    this.status = status;
    this.serverCode = serverCode;
  }
}

/** The server stayed unreachable (network failures, 5xx or 429) through every retry. */
export class NetworkError extends DureError {
  override name = 'NetworkError';
  constructor(message: string, options?: DureErrorOptions) {
    super('NETWORK', message, options);
  }
}

/** A downloaded adapter does not match its announced SHA-256, size bound or LoRA configuration. */
export class AdapterIntegrityError extends DureError {
  override name = 'AdapterIntegrityError';
  constructor(message: string, options?: DureErrorOptions) {
    super('ADAPTER_INTEGRITY', message, options);
  }
}

/** The trainer broke its contract with the round client (e.g. changed lora_A in an FFA-LoRA round). */
export class TrainerContractError extends DureError {
  override name = 'TrainerContractError';
  constructor(message: string, options?: DureErrorOptions) {
    super('TRAINER_CONTRACT', message, options);
  }
}

/** The client's local store (IndexedDB or file) failed. */
export class ClientStoreError extends DureError {
  override name = 'ClientStoreError';
  constructor(message: string, options?: DureErrorOptions) {
    super('CLIENT_STORE', message, options);
  }
}

/** The local dataset cannot be used for this round. */
export class LocalDataError extends DureError {
  override name = 'LocalDataError';
  constructor(message: string, options?: DureErrorOptions) {
    super('LOCAL_DATA', message, options);
  }
}

/** The round was stopped by the caller. */
export class RoundAbortedError extends DureError {
  override name = 'RoundAbortedError';
  constructor(message = 'the round was aborted') {
    super('ROUND_ABORTED', message);
  }
}

/** A dataset file cannot be read: not UTF-8, too large, or no usable record. */
export class DatasetError extends DureError {
  override name = 'DatasetError';
  constructor(
    message: string,
    code: 'DATASET' | 'DATASET_ENCODING' | 'DATASET_TOO_LARGE' | 'DATASET_SPLIT' = 'DATASET',
  ) {
    super(code, message);
  }
}
