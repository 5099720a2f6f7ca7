/**
 * Wraps a guard with the n-gram model as a second opinion on questions the guard let through.
 * Not Dure's default: on Dure's set it doubled recall on phrasings written after the rules were
 * frozen, but also stopped ordinary questions (see src/guard/README.md). A portal that has its own
 * labelled questions (for example citizens' 유해 labels, issue #17 item 5) can train a model on
 * them and opt in.
 */
import { GUARD_MESSAGES } from './messages.ts';
import type { NgramModel } from './ngram-model.ts';
import { touchedCategories } from './rule-guard.ts';
import type { Guard, GuardReason, HarmCategory } from './types.ts';

export interface ModelGuardOptions {
  /** Least class probability for the model to act (Dure's set: 0.3, chosen on dev). */
  threshold: number;
  /**
   * Let the model act only where the base rules saw a harm topic without reaching their
   * threshold: fewer ordinary questions stopped, fewer new phrasings caught.
   */
  gated: boolean;
}

const CATEGORIES = new Set<string>([
  'violence_weapons',
  'terror',
  'hacking_malware',
  'drugs',
  'self_harm',
  'sexual',
  'hate',
  'fraud_phishing',
  'personal_data',
  'jailbreak',
]);

export function withModel(base: Guard, model: NgramModel, options: ModelGuardOptions): Guard {
  return {
    checkOutput: (text, o) => base.checkOutput(text, o),
    checkInput(text) {
      const verdict = base.checkInput(text);
      if (verdict.action !== 'allow') return verdict;
      const p = model.predict(text);
      if (!CATEGORIES.has(p.label) || p.probability < options.threshold) return verdict;
      if (options.gated && touchedCategories(text).length === 0) return verdict;
      const category = p.label as HarmCategory;
      const reason: GuardReason =
        category === 'self_harm'
          ? 'self_harm_support'
          : category === 'jailbreak'
            ? 'jailbreak'
            : category === 'hate'
              ? 'hate_speech'
              : category === 'personal_data'
                ? 'personal_data_request'
                : 'harmful_request';
      return {
        action: category === 'self_harm' ? 'support' : 'refuse',
        category,
        reason,
        message: GUARD_MESSAGES[reason],
        matched: [`model:${category}:${p.probability.toFixed(2)}`],
      };
    },
  };
}
