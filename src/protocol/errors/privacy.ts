/** Error classes: differential privacy. Codes and messages are catalogued in ../errors.ts. */
import { DureError } from './dure-error.ts';

/**
 * Privacy parameters that cannot work: a non-positive ε, δ outside (0, 1), a clip or scale that is
 * not positive, fewer survivors than one, or a target no noise level within range can meet.
 */
export class PrivacyParameterError extends DureError {
  override name = 'PrivacyParameterError';
  constructor(
    message: string,
    code: 'PRIVACY_PARAMETERS' | 'PRIVACY_TARGET_UNREACHABLE' = 'PRIVACY_PARAMETERS',
  ) {
    super(code, message);
  }
}

/** A task's privacy budget (ε at its δ) would be exceeded by another round. */
export class PrivacyBudgetExhaustedError extends DureError {
  override name = 'PrivacyBudgetExhaustedError';
  constructor(message: string) {
    super('PRIVACY_BUDGET_EXHAUSTED', message);
  }
}
