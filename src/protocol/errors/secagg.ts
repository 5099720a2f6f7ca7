/** Error classes: secure aggregation (SecAgg+). Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** Codes of {@link SecAggProtocolError}: a phase message or call that breaks the protocol. */
export type SecAggProtocolCode =
  | 'SECAGG_OUT_OF_ORDER'
  | 'SECAGG_BAD_ROSTER'
  | 'SECAGG_BAD_MESSAGE'
  | 'SECAGG_TOO_FEW_SURVIVORS'
  | 'SECAGG_UNMASK_REFUSED';

/**
 * A secure-aggregation phase was called out of order, a roster or phase message is malformed or
 * inconsistent, too few clients survive to unmask, or the server asked for what would reveal one
 * client's input (both the self-mask share and the mask-key share of the same client).
 */
export class SecAggProtocolError extends DureError {
  override name = 'SecAggProtocolError';
  constructor(message: string, code: SecAggProtocolCode = 'SECAGG_BAD_MESSAGE', options?: DureErrorOptions) {
    super(code, message, options);
  }
}

/** Codes of {@link SecAggCryptoError}. */
export type SecAggCryptoCode = 'SECAGG_DECRYPT' | 'SECAGG_KEY_MISMATCH';

/**
 * A share ciphertext failed authentication (tampered, or routed to the wrong client), or a
 * reconstructed mask key does not match the public key its owner advertised.
 */
export class SecAggCryptoError extends DureError {
  override name = 'SecAggCryptoError';
  constructor(message: string, code: SecAggCryptoCode = 'SECAGG_DECRYPT', options?: DureErrorOptions) {
    super(code, message, options);
  }
}

/** Codes of {@link ShamirError}. */
export type ShamirCode = 'SHAMIR_TOO_FEW_SHARES' | 'SHAMIR_INCONSISTENT' | 'SHAMIR_PARAMS';

/** Shamir sharing or reconstruction cannot proceed: too few shares, shares that disagree, bad t/n. */
export class ShamirError extends DureError {
  override name = 'ShamirError';
  constructor(message: string, code: ShamirCode = 'SHAMIR_INCONSISTENT', options?: DureErrorOptions) {
    super(code, message, options);
  }
}

/** Codes of {@link QuantizationError}. */
export type QuantizationCode = 'QUANT_HEADROOM' | 'QUANT_INPUT';

/**
 * Fixed-point parameters that could wrap the modular sum (no headroom), or an input the quantizer
 * refuses (non-finite, outside an L2 clip the caller promised, noise over its declared bound).
 */
export class QuantizationError extends DureError {
  override name = 'QuantizationError';
  constructor(message: string, code: QuantizationCode = 'QUANT_INPUT', options?: DureErrorOptions) {
    super(code, message, options);
  }
}
