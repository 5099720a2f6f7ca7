/**
 * One table of task settings and the rule codes each must break, read by both sides' tests
 * (src/protocol/task-rules.test.ts for the wizard's check, federated-server/src/task-policy.test.ts
 * for the server's refusal), so a rule changed on one side only fails a test. Test data only.
 */
import type { TaskRuleInput, TaskRuleViolation } from './task-rules.ts';

const dp = { epsilon: 8, delta: 1e-5 };
const base: TaskRuleInput = { publicAdapters: false, strategy: { name: 'fedavg' } };

export const TASK_RULE_CASES: { name: string; spec: TaskRuleInput; codes: TaskRuleViolation['code'][] }[] = [
  { name: 'defaults (k = 3, no privacy)', spec: base, codes: [] },
  { name: 'k = 2', spec: { ...base, minParticipants: 2 }, codes: [] },
  { name: 'k = 1', spec: { ...base, minParticipants: 1 }, codes: ['COHORT_TOO_SMALL'] },
  {
    name: 'public, k = 5, DP under secure aggregation',
    spec: { ...base, publicAdapters: true, minParticipants: 5, privacy: { secureAggregation: true, dp } },
    codes: [],
  },
  {
    name: 'public, k = 4',
    spec: { ...base, publicAdapters: true, minParticipants: 4, privacy: { secureAggregation: true, dp } },
    codes: ['COHORT_TOO_SMALL'],
  },
  {
    name: 'public without DP',
    spec: {
      ...base,
      publicAdapters: true,
      minParticipants: 5,
      privacy: { secureAggregation: true, dp: null },
    },
    codes: ['PUBLIC_NEEDS_PRIVACY'],
  },
  {
    name: 'public, default k, no privacy at all',
    spec: { ...base, publicAdapters: true },
    codes: ['COHORT_TOO_SMALL', 'PUBLIC_NEEDS_PRIVACY'],
  },
  {
    name: 'DP without secure aggregation',
    spec: { ...base, privacy: { secureAggregation: false, dp } },
    codes: ['DP_NEEDS_SECURE_AGGREGATION'],
  },
  {
    name: 'median under secure aggregation',
    spec: { ...base, strategy: { name: 'median' }, privacy: { secureAggregation: true, dp: null } },
    codes: ['STRATEGY_NEEDS_PLAINTEXT'],
  },
  {
    name: 'trimmed mean under secure aggregation with DP',
    spec: { ...base, strategy: { name: 'trimmed-mean' }, privacy: { secureAggregation: true, dp } },
    codes: ['STRATEGY_NEEDS_PLAINTEXT'],
  },
  {
    name: 'median in plaintext',
    spec: { ...base, strategy: { name: 'median' } },
    codes: [],
  },
  {
    name: 'ffa-lora under secure aggregation with DP',
    spec: { ...base, strategy: { name: 'ffa-lora' }, privacy: { secureAggregation: true, dp } },
    codes: [],
  },
];
