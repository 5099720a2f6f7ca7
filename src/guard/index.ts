/** Harm and jailbreak guard for citizens' questions and the model's answers (issue #17 item 4). */
export type {
  Guard,
  GuardAction,
  GuardReason,
  GuardVerdict,
  HarmCategory,
  OutputCheckOptions,
} from './types.ts';
export { checkInput, checkOutput, ruleGuard, touchedCategories } from './rule-guard.ts';
export { NgramModel, type NgramExample, type NgramModelOptions } from './ngram-model.ts';
export { withModel, type ModelGuardOptions } from './model-guard.ts';
export { GUARD_MESSAGES } from './messages.ts';
export { normalize } from './normalize.ts';
