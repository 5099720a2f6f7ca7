/**
 * What a task's privacy and cohort settings must satisfy before it is created (issue #15):
 * a round's minimum cohort k defaults to 3 and is never below 2; adapters published to citizens
 * need k ≥ 5 and differential privacy; robust strategies (median, trimmed mean) read individual
 * updates, so they cannot run under secure aggregation. Refusals carry a plain Korean and English
 * message.
 */
import { DEFAULT_MIN_COHORT, PUBLIC_MIN_COHORT, type CreateTaskRequest } from '../../src/protocol/schemas.ts';
import { FederatedError } from './errors.ts';

/** Strategies that need each update in plaintext. */
const PLAINTEXT_STRATEGIES = new Set(['median', 'trimmed-mean']);

/** The task's per-round minimum cohort k. */
export const minCohort = (spec: Pick<CreateTaskRequest, 'minParticipants'>): number =>
  spec.minParticipants ?? DEFAULT_MIN_COHORT;

/**
 * The spec as stored: k filled in, privacy explicit.
 * @throws {FederatedError} COHORT_TOO_SMALL, PUBLIC_NEEDS_PRIVACY or STRATEGY_NEEDS_PLAINTEXT.
 */
export function checkTaskPolicy(spec: CreateTaskRequest): CreateTaskRequest {
  const k = minCohort(spec);
  const privacy = spec.privacy ?? { secureAggregation: false, dp: null };
  if (k < 2)
    throw new FederatedError(
      'COHORT_TOO_SMALL',
      400,
      `라운드 최소 참여 기관 수는 2 이상이어야 합니다 / minParticipants must be at least 2 (got ${k})`,
    );
  if (spec.publicAdapters && k < PUBLIC_MIN_COHORT)
    throw new FederatedError(
      'COHORT_TOO_SMALL',
      400,
      `공개 어댑터 과제는 라운드마다 ${PUBLIC_MIN_COHORT}개 기관 이상이 필요합니다 / ` +
        `a task with public adapters needs minParticipants ≥ ${PUBLIC_MIN_COHORT} (got ${k})`,
    );
  if (spec.publicAdapters && privacy.dp === null)
    throw new FederatedError(
      'PUBLIC_NEEDS_PRIVACY',
      400,
      '공개 어댑터 과제는 차등 프라이버시(privacy.dp)를 켜야 합니다 / ' +
        'a task with public adapters needs differential privacy (privacy.dp)',
    );
  if (privacy.dp !== null && !privacy.secureAggregation)
    throw new FederatedError(
      'DP_NEEDS_SECURE_AGGREGATION',
      400,
      '차등 프라이버시는 보안 집계와 함께만 켤 수 있습니다 / ' +
        'differential privacy needs secure aggregation: each institution adds only its share of the noise',
    );
  if (privacy.secureAggregation && PLAINTEXT_STRATEGIES.has(spec.strategy.name))
    throw new FederatedError(
      'STRATEGY_NEEDS_PLAINTEXT',
      400,
      `${spec.strategy.name} 집계는 개별 업데이트가 필요해 보안 집계와 함께 쓸 수 없습니다 / ` +
        `${spec.strategy.name} needs individual updates in plaintext and cannot run under secure aggregation`,
    );
  return { ...spec, minParticipants: k, privacy };
}
