/**
 * Typed errors of the federated round client (src/fl/round-client.ts), its stores and the widget's
 * adapter feed. Each has a stable `code` and is registered so it survives worker boundaries.
 */
import { DureError, registerErrorClass } from '../engine/errors.ts';

/** The client has no enrolled identity for this server (enroll with the one-time code first). */
export class NotEnrolledError extends DureError {
  override name = 'NotEnrolledError';
  constructor(message: string) {
    super('NOT_ENROLLED', message);
  }
}

/**
 * The server refused a request (HTTP 4xx other than 429). Not retried: the same request would be
 * refused again. `serverCode` is the server's stable reason (e.g. `LATE_UPDATE`, `NORM_EXCEEDED`,
 * `BAD_ENROLLMENT_CODE`), `status` the HTTP status.
 */
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
  constructor(message: string, options?: { cause?: unknown }) {
    super('NETWORK', message, options);
  }
}

/** A downloaded adapter does not match its announced SHA-256, size bound or LoRA configuration. */
export class AdapterIntegrityError extends DureError {
  override name = 'AdapterIntegrityError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ADAPTER_INTEGRITY', message, options);
  }
}

/** The trainer broke the round's contract (e.g. changed the frozen lora_A in FFA-LoRA). */
export class TrainerContractError extends DureError {
  override name = 'TrainerContractError';
  constructor(message: string) {
    super('TRAINER_CONTRACT', message);
  }
}

/** The key/state store could not read or write (corrupt file, quota, blocked IndexedDB). */
export class ClientStoreError extends DureError {
  override name = 'ClientStoreError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('CLIENT_STORE', message, options);
  }
}

/** The local dataset cannot feed a round (no training or no validation examples). */
export class LocalDataError extends DureError {
  override name = 'LocalDataError';
  constructor(message: string) {
    super('LOCAL_DATA', message);
  }
}

/** The caller aborted the round (AbortSignal). Progress already stored is kept. */
export class RoundAbortedError extends DureError {
  override name = 'RoundAbortedError';
  constructor(message = 'the round was aborted') {
    super('ROUND_ABORTED', message);
  }
}

registerErrorClass('NotEnrolledError', NotEnrolledError);
registerErrorClass('ServerRefusedError', ServerRefusedError);
registerErrorClass('NetworkError', NetworkError);
registerErrorClass('AdapterIntegrityError', AdapterIntegrityError);
registerErrorClass('TrainerContractError', TrainerContractError);
registerErrorClass('ClientStoreError', ClientStoreError);
registerErrorClass('LocalDataError', LocalDataError);
registerErrorClass('RoundAbortedError', RoundAbortedError);
