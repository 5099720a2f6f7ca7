/**
 * The guard's contract (issue #17 item 4): what a citizen's question or a generated answer is
 * checked for, and what the widget, SDK and `dure ask` do with the verdict. A portal can swap in
 * its own `Guard` (a server-side classifier, a small model) as long as it answers in these types.
 */

/** Harm taxonomy, after Llama Guard / ShieldGemma, narrowed to what a 민원 assistant meets. */
export type HarmCategory =
  | 'violence_weapons'
  | 'terror'
  | 'hacking_malware'
  | 'drugs'
  | 'self_harm'
  | 'sexual'
  | 'hate'
  | 'fraud_phishing'
  | 'personal_data'
  | 'jailbreak'
  /** Output only: the answer repeats the system prompt or chat-template markers. */
  | 'prompt_leak';

/**
 * `allow`: answer normally. `refuse`: do not generate (input) or do not show (output); show
 * `message` instead. `support`: the text speaks of self-harm; show the help-line message
 * (109, 1577-0199, 1388) instead of generating. It is not a refusal: the citizen is answered
 * with where to get help now, which is what a help-seeking question asks for and what a method
 * question must get instead of the method.
 */
export type GuardAction = 'allow' | 'refuse' | 'support';

/** Stable keys of the plain messages in messages.ts (one Korean and one English text each). */
export type GuardReason =
  | 'allowed'
  | 'harmful_request'
  | 'hate_speech'
  | 'personal_data_request'
  | 'jailbreak'
  | 'self_harm_support'
  | 'output_harmful'
  | 'output_personal_data'
  | 'output_prompt_leak';

export interface GuardVerdict {
  action: GuardAction;
  category: HarmCategory | null;
  reason: GuardReason;
  /** What to show the citizen instead of an answer (empty strings when allowed). */
  message: { ko: string; en: string };
  /** Debug only: the rules that fired, e.g. `drugs:object:필로폰`. Never shown to citizens. */
  matched?: string[];
}

export interface OutputCheckOptions {
  /** The system prompt the answer was generated under: long verbatim runs of it are a leak. */
  systemPrompt?: string;
  /**
   * Text the answer may legitimately repeat (the question, retrieved passages): personal
   * identifiers found there are not a leak of someone else's data.
   */
  context?: string;
}

/** One interface, so a portal can replace the rule guard with its own. */
export interface Guard {
  checkInput(text: string): GuardVerdict;
  checkOutput(text: string, options?: OutputCheckOptions): GuardVerdict;
}
