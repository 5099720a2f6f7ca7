/**
 * Dure's default guard: the rule tables, no model. checkInput runs before generation,
 * checkOutput on the finished (or streamed-so-far) answer before it is shown.
 */
import { pickCategory, scoreText } from './classify.ts';
import { GUARD_MESSAGES } from './messages.ts';
import { decodeHidden, normalize } from './normalize.ts';
import { foreignPii, promptLeak } from './output.ts';
import { PROCEDURE_INTENTS, REQUEST_INTENTS } from './rules.ts';
import type { Guard, GuardReason, GuardVerdict, HarmCategory, OutputCheckOptions } from './types.ts';

function verdict(
  action: GuardVerdict['action'],
  category: HarmCategory | null,
  reason: GuardReason,
  matched?: string[],
): GuardVerdict {
  return { action, category, reason, message: GUARD_MESSAGES[reason], ...(matched ? { matched } : {}) };
}

const ALLOWED = verdict('allow', null, 'allowed');

function classifyInput(text: string, depth: number): GuardVerdict {
  const t = normalize(text);
  const best = pickCategory(scoreText(t, 'input', REQUEST_INTENTS));
  if (best) {
    const matched = [...best.matched.map((m) => `${best.rules.category}:${m}`)];
    if (t.hadInvisible) matched.push('obfuscation:invisible-characters');
    return verdict(best.rules.action, best.rules.category, best.rules.reason, matched);
  }
  // Instructions hidden in base64 or ROT13 are checked as text; hiding them is itself the attack.
  if (depth === 0) {
    // From the raw text: undoing leetspeak would corrupt the encoded runs.
    for (const hidden of decodeHidden(text.normalize('NFKC'))) {
      const inner = classifyInput(hidden, 1);
      if (inner.action !== 'allow')
        return verdict('refuse', 'jailbreak', 'jailbreak', ['obfuscation:encoded', ...(inner.matched ?? [])]);
    }
  }
  return ALLOWED;
}

/**
 * Categories whose rules saw something in `text` (an object or a direct pattern) without
 * necessarily reaching their threshold: where a second opinion is worth asking.
 */
export function touchedCategories(text: string): HarmCategory[] {
  return scoreText(normalize(text), 'input', REQUEST_INTENTS)
    .filter((s) => s.matched.length > 0)
    .map((s) => s.rules.category);
}

export function checkInput(text: string): GuardVerdict {
  return classifyInput(text, 0);
}

export function checkOutput(text: string, options: OutputCheckOptions = {}): GuardVerdict {
  const t = normalize(text);
  const leak = promptLeak(t, options.systemPrompt);
  if (leak) return verdict('refuse', 'prompt_leak', 'output_prompt_leak', [leak]);
  const pii = foreignPii(t.text, options.context);
  if (pii.length > 0)
    return verdict(
      'refuse',
      'personal_data',
      'output_personal_data',
      pii.map((f) => `pii:${f.kind}`),
    );
  const best = pickCategory(scoreText(t, 'output', PROCEDURE_INTENTS));
  if (!best) return ALLOWED;
  const matched = best.matched.map((m) => `${best.rules.category}:${m}`);
  // An answer that talks someone through self-harm is replaced by the help lines, not refused.
  return best.rules.action === 'support'
    ? verdict('support', 'self_harm', 'self_harm_support', matched)
    : verdict('refuse', best.rules.category, 'output_harmful', matched);
}

/** The rule guard behind the `Guard` interface (a portal may pass its own instead). */
export const ruleGuard: Guard = { checkInput, checkOutput };
