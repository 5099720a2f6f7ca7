/**
 * Renders chat messages with the model's own `tokenizer.chat_template` (Jinja, via
 * @huggingface/jinja), with BOS/EOS strings the template expects.
 */
import { Template } from '@huggingface/jinja';
import type { ChatMessage } from './api.ts';
import { DureError } from './errors.ts';
import type { GgufKv } from './gguf/types.ts';

export class ChatTemplateError extends DureError {
  override name = 'ChatTemplateError';
  constructor(message: string) {
    super('CHAT_TEMPLATE', message);
  }
}

interface TokenText {
  bosId: number | null;
  eosId: number | null;
  tokenBytes(id: number): Uint8Array;
}

const cache = new WeakMap<object, Template>();

/** @throws {ChatTemplateError} when the model has no template or it fails to render. */
export function renderChat(
  metadata: ReadonlyMap<string, GgufKv>,
  messages: ChatMessage[],
  tok: TokenText,
  addGenerationPrompt = true,
): string {
  const src = metadata.get('tokenizer.chat_template')?.value;
  if (typeof src !== 'string')
    throw new ChatTemplateError('the model has no chat template (tokenizer.chat_template)');
  let tpl = cache.get(metadata);
  try {
    if (!tpl) {
      tpl = new Template(src);
      cache.set(metadata, tpl);
    }
    const text = (id: number | null) => (id === null ? '' : new TextDecoder().decode(tok.tokenBytes(id)));
    return tpl.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: text(tok.bosId),
      eos_token: text(tok.eosId),
    });
  } catch (e) {
    throw new ChatTemplateError(`chat template failed: ${(e as Error).message}`);
  }
}
