/** Harm and jailbreak guard for citizens' questions and the model's answers (issue #17 item 4). */
export type {
  Guard,
  GuardAction,
  GuardReason,
  GuardVerdict,
  HarmCategory,
  OutputCheckOptions,
} from './types.ts';
export { checkInput, checkOutput, ruleGuard } from './rule-guard.ts';
export { GUARD_MESSAGES } from './messages.ts';
export { normalize } from './normalize.ts';
