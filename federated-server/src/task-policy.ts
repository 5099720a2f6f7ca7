/**
 * What a task's privacy and cohort settings must satisfy before it is created (issue #15). The
 * rules themselves live in src/protocol/task-rules.ts, shared with the dashboard's task wizard, so
 * the wizard refuses exactly what the server refuses; this module turns the first broken rule into
 * the server's refusal (a plain Korean and English message) and fills in the stored defaults.
 */
import type { CreateTaskRequest } from '../../src/protocol/schemas.ts';
import { minCohort, taskRuleViolations } from '../../src/protocol/task-rules.ts';
import { FederatedError } from './errors.ts';

export { minCohort };

/**
 * The spec as stored: k filled in, privacy explicit.
 * @throws {FederatedError} COHORT_TOO_SMALL, PUBLIC_NEEDS_PRIVACY, DP_NEEDS_SECURE_AGGREGATION or
 *   STRATEGY_NEEDS_PLAINTEXT (400), for the first rule the spec breaks.
 */
export function checkTaskPolicy(spec: CreateTaskRequest): CreateTaskRequest {
  const [broken] = taskRuleViolations(spec);
  if (broken) throw new FederatedError(broken.code, 400, `${broken.ko} / ${broken.en}`);
  return {
    ...spec,
    minParticipants: minCohort(spec),
    privacy: spec.privacy ?? { secureAggregation: false, dp: null },
  };
}
