/** Error classes: air-gapped (망연계) file transfer. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** Codes of {@link AirgapFileError}. */
export type AirgapFileCode =
  | 'AIRGAP_MALFORMED'
  | 'AIRGAP_TOO_LARGE'
  | 'AIRGAP_BAD_SIGNATURE'
  | 'AIRGAP_WRONG_TASK'
  | 'AIRGAP_WRONG_PHASE'
  | 'AIRGAP_REPLAYED'
  | 'AIRGAP_STATE_LOCKED';

/**
 * A file carried across a network separation was refused before anything was used or stored:
 * truncated or not a Dure air-gap file, too large, its signature or hash does not verify, it is
 * for another task, round or institution, for another step of the round, older than one already
 * used, or the saved round state cannot be opened (wrong passphrase or altered).
 */
export class AirgapFileError extends DureError {
  override name = 'AirgapFileError';
  constructor(message: string, code: AirgapFileCode = 'AIRGAP_MALFORMED', options?: DureErrorOptions) {
    super(code, message, options);
  }
}
