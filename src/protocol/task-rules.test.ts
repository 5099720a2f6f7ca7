import { describe, expect, it } from 'vitest';
import { isCataloguedCode } from './errors.ts';
import { TASK_RULE_CASES } from './task-rules.cases.ts';
import { taskRuleViolations } from './task-rules.ts';

describe('task rules (what the wizard refuses before submit)', () => {
  it.each(TASK_RULE_CASES)('$name', ({ spec, codes }) => {
    const found = taskRuleViolations(spec);
    expect(found.map((v) => v.code)).toEqual(codes);
    for (const v of found) {
      expect(isCataloguedCode(v.code)).toBe(true);
      expect(v.ko).toMatch(/[가-힣]/);
      expect(v.en).toMatch(/[a-z]/);
    }
  });
});
