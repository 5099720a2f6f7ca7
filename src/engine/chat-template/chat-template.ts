/**
 * Renders a model's chat template (`tokenizer.chat_template`, Jinja) with @huggingface/jinja, the
 * implementation transformers.js uses, into the prompt text the model was trained on. The result
 * contains control-token text (`<|im_start|>`), so it is tokenized with `parseSpecial: true`;
 * message contents are user text and must not be (see `renderAndEncode`).
 */
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import type { ChatMessage } from '../api.ts';
import type { GgufKv } from '../gguf/types.ts';
import { GgufValueType } from '../gguf/types.ts';
import { ChatTemplateError, ChatTemplateRejectedError } from './errors.ts';

/** Templates in real GGUFs are a few KiB; refuse absurd ones before parsing. */
export const MAX_TEMPLATE_CHARS = 256 * 1024;
/** `range()` in a template from an untrusted file must not allocate without bound. */
export const MAX_RANGE = 100_000;

export interface ChatTemplateInput {
  messages: readonly ChatMessage[];
  /** Append the opening of an assistant turn (default true: we are about to generate). */
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** Extra template variables, e.g. `{ enable_thinking: false }` for Qwen3. */
  variables?: Readonly<Record<string, unknown>>;
}

class RaisedByTemplate extends Error {}

export class ChatTemplate {
  private readonly template: Template;

  /** @throws {ChatTemplateError} when the source is too long or not valid Jinja. */
  constructor(readonly source: string) {
    if (source.length > MAX_TEMPLATE_CHARS) {
      throw new ChatTemplateError(
        `chat template of ${source.length} characters exceeds ${MAX_TEMPLATE_CHARS}`,
      );
    }
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ChatTemplateError(`chat template does not parse: ${errorMessage(e)}`, { cause: e });
    }
  }

  /**
   * Renders the conversation.
   * @throws {ChatTemplateRejectedError} when the template calls `raise_exception`.
   * @throws {ChatTemplateError} when rendering fails for any other reason.
   */
  render(input: ChatTemplateInput): string {
    const items: Record<string, unknown> = {
      ...input.variables,
      messages: input.messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: input.addGenerationPrompt ?? true,
      bos_token: input.bosToken ?? '',
      eos_token: input.eosToken ?? '',
    };
    try {
      // Our own globals instead of Template.render's: raise_exception must be recognisable and
      // range() bounded. The rest mirrors the library's (true/false/none in both spellings).
      const env = new Environment();
      const globals: Record<string, unknown> = {
        true: true,
        false: false,
        none: null,
        True: true,
        False: false,
        None: null,
        raise_exception: (message: unknown) => {
          throw new RaisedByTemplate(String(message));
        },
        range: boundedRange,
        strftime_now: strftimeNow,
        ...items,
      };
      for (const [k, v] of Object.entries(globals)) env.set(k, v);
      const result = new Interpreter(env).run(this.template.parsed) as { value: unknown };
      return String(result.value);
    } catch (e) {
      if (e instanceof RaisedByTemplate) throw new ChatTemplateRejectedError(e.message);
      throw new ChatTemplateError(`chat template failed to render: ${errorMessage(e)}`, { cause: e });
    }
  }
}

function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (step === 0) throw new Error('range() step must not be zero');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (!Number.isFinite(n) || n > MAX_RANGE) throw new Error(`range() of ${n} items exceeds ${MAX_RANGE}`);
  return Array.from({ length: n }, (_, i) => start + i * step);
}

/** The subset of strftime chat templates use (Llama 3.x: "%d %b %Y"), in English like Python's C locale. */
function strftimeNow(format: string): string {
  const d = new Date();
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const long = [
    'January',
    'February',
    'March',
    'April',
    'May',
    'June',
    'July',
    'August',
    'September',
    'October',
    'November',
    'December',
  ];
  const pad = (n: number) => String(n).padStart(2, '0');
  return String(format).replace(/%[YmdbBHM%]/g, (t) => {
    switch (t) {
      case '%Y':
        return String(d.getFullYear());
      case '%m':
        return pad(d.getMonth() + 1);
      case '%d':
        return pad(d.getDate());
      case '%b':
        return months[d.getMonth()] ?? '';
      case '%B':
        return long[d.getMonth()] ?? '';
      case '%H':
        return pad(d.getHours());
      case '%M':
        return pad(d.getMinutes());
      default:
        return '%';
    }
  });
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The chat template stored in GGUF metadata, or `null` when the file has none.
 * @throws {ChatTemplateError} when the key has the wrong type or the template does not parse.
 */
export function chatTemplateFromMetadata(md: ReadonlyMap<string, GgufKv>): ChatTemplate | null {
  const kv = md.get('tokenizer.chat_template');
  if (kv === undefined) return null;
  if (kv.type !== GgufValueType.STRING || typeof kv.value !== 'string') {
    throw new ChatTemplateError('tokenizer.chat_template must be a string');
  }
  return new ChatTemplate(kv.value);
}
