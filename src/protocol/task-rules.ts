/**
 * The rules a task's cohort and privacy settings must satisfy (issue #15), as one pure function
 * shared by the server (federated-server/src/task-policy.ts refuses a task that breaks one) and the
 * dashboard's task wizard (which refuses it before submitting), so the two can never disagree.
 *
 * - a round's minimum cohort k defaults to DEFAULT_MIN_COHORT (3) and is never below 2;
 * - adapters published to citizens need k ≥ PUBLIC_MIN_COHORT (5) and differential privacy;
 * - differential privacy needs secure aggregation (each institution adds only its share of noise);
 * - robust strategies (median, trimmed mean) read individual updates, so not under secure aggregation.
 */
import { DEFAULT_MIN_COHORT, PUBLIC_MIN_COHORT, type CreateTaskRequest } from './schemas.ts';

/** The settings the rules read: a subset of a task, so a half-filled wizard form can be checked. */
export type TaskRuleInput = Pick<CreateTaskRequest, 'minParticipants' | 'publicAdapters' | 'privacy'> & {
  strategy: { name: CreateTaskRequest['strategy']['name'] };
};

/** Which field a broken rule is about (the wizard shows the message beside it). */
export type TaskRuleField = 'minParticipants' | 'publicAdapters' | 'dp' | 'strategy';

export interface TaskRuleViolation {
  /** The error catalogue's code (src/protocol/errors.ts), also the server's refusal code. */
  code:
    'COHORT_TOO_SMALL' | 'PUBLIC_NEEDS_PRIVACY' | 'DP_NEEDS_SECURE_AGGREGATION' | 'STRATEGY_NEEDS_PLAINTEXT';
  field: TaskRuleField;
  ko: string;
  en: string;
}

/** Strategies that need each update in plaintext. */
export const PLAINTEXT_STRATEGIES: ReadonlySet<string> = new Set(['median', 'trimmed-mean']);

/** The task's per-round minimum cohort k. */
export const minCohort = (spec: Pick<CreateTaskRequest, 'minParticipants'>): number =>
  spec.minParticipants ?? DEFAULT_MIN_COHORT;

/** Every rule the settings break, in a fixed order (empty when the task may be created). */
export function taskRuleViolations(spec: TaskRuleInput): TaskRuleViolation[] {
  const k = minCohort(spec);
  const privacy = spec.privacy ?? { secureAggregation: false, dp: null };
  const out: TaskRuleViolation[] = [];
  if (!(Number.isInteger(k) && k >= 2))
    out.push({
      code: 'COHORT_TOO_SMALL',
      field: 'minParticipants',
      ko: `라운드 최소 참여 기관 수는 2 이상의 정수여야 합니다 (지금 ${k})`,
      en: `minParticipants must be an integer of at least 2 (got ${k})`,
    });
  else if (spec.publicAdapters && k < PUBLIC_MIN_COHORT)
    out.push({
      code: 'COHORT_TOO_SMALL',
      field: 'minParticipants',
      ko: `공개 어댑터 과제는 라운드마다 ${PUBLIC_MIN_COHORT}개 기관 이상이 필요합니다 (지금 ${k})`,
      en: `a task with public adapters needs minParticipants ≥ ${PUBLIC_MIN_COHORT} (got ${k})`,
    });
  if (spec.publicAdapters && privacy.dp === null)
    out.push({
      code: 'PUBLIC_NEEDS_PRIVACY',
      field: 'publicAdapters',
      ko: '공개 어댑터 과제는 차등 프라이버시(privacy.dp)를 켜야 합니다',
      en: 'a task with public adapters needs differential privacy (privacy.dp)',
    });
  if (privacy.dp !== null && !privacy.secureAggregation)
    out.push({
      code: 'DP_NEEDS_SECURE_AGGREGATION',
      field: 'dp',
      ko: '차등 프라이버시는 보안 집계와 함께만 켤 수 있습니다',
      en: 'differential privacy needs secure aggregation: each institution adds only its share of the noise',
    });
  if (privacy.secureAggregation && PLAINTEXT_STRATEGIES.has(spec.strategy.name))
    out.push({
      code: 'STRATEGY_NEEDS_PLAINTEXT',
      field: 'strategy',
      ko: `${spec.strategy.name} 집계는 개별 업데이트가 필요해 보안 집계와 함께 쓸 수 없습니다`,
      en: `${spec.strategy.name} needs individual updates in plaintext and cannot run under secure aggregation`,
    });
  return out;
}
