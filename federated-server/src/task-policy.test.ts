/**
 * The server refuses exactly what the dashboard's wizard refuses: the same table of cases as
 * src/protocol/task-rules.test.ts, through the server's own check (first broken rule → refusal).
 */
import { describe, expect, it } from 'vitest';
import { TASK_RULE_CASES } from '../../src/protocol/task-rules.cases.ts';
import { FederatedError } from './errors.ts';
import { checkTaskPolicy } from './task-policy.ts';
import { tinyTask } from './testing/harness.ts';

describe('task policy (server side of the shared rules table)', () => {
  it.each(TASK_RULE_CASES)('$name', ({ spec, codes }) => {
    const task = tinyTask({
      minParticipants: spec.minParticipants,
      publicAdapters: spec.publicAdapters,
      ...(spec.privacy ? { privacy: spec.privacy } : {}),
      strategy:
        spec.strategy.name === 'trimmed-mean'
          ? { name: 'trimmed-mean', trimFraction: 0.1 }
          : (spec.strategy as { name: 'fedavg' }),
    });
    if (spec.minParticipants === undefined) delete task.minParticipants;
    if (codes.length === 0) {
      const stored = checkTaskPolicy(task);
      expect(stored.minParticipants).toBe(spec.minParticipants ?? 3);
      expect(stored.privacy).toEqual(spec.privacy ?? { secureAggregation: false, dp: null });
    } else {
      let caught: unknown;
      try {
        checkTaskPolicy(task);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(FederatedError);
      expect((caught as FederatedError).code).toBe(codes[0]);
      expect((caught as FederatedError).status).toBe(400);
    }
  });
});
