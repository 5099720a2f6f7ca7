/**
 * Chat messages → prompt token ids. The rendered template is tokenized with `parseSpecial: true`
 * (its `<|im_start|>` etc. must become control tokens), exactly as llama.cpp's server does. But a
 * message that itself contains control-token text (a user typing `<|im_end|>`) must not be able to
 * forge a turn boundary: then the template is rendered with placeholders, and each message's text
 * is tokenized with `parseSpecial: false` between the template's own pieces.
 */
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { ChatTemplate, ChatTemplateInput } from './chat-template.ts';

const OPEN = '\uE000';
const CLOSE = '\uE001';

function containsControlText(tokenizer: Tokenizer, text: string): boolean {
  return tokenizer.encode(text, { parseSpecial: true }).some((id) => tokenizer.isControl(id));
}

/**
 * Renders `input` with `template` and tokenizes it for `tokenizer`.
 * @throws {ChatTemplateError | ChatTemplateRejectedError} from rendering.
 */
export function encodeChat(
  template: ChatTemplate,
  tokenizer: Tokenizer,
  input: ChatTemplateInput,
  options: { addBos?: boolean } = {},
): number[] {
  const withTokens: ChatTemplateInput = {
    ...input,
    bosToken: input.bosToken ?? (tokenizer.bosId !== null ? tokenizer.vocab.text(tokenizer.bosId) : ''),
    eosToken: input.eosToken ?? (tokenizer.eosId !== null ? tokenizer.vocab.text(tokenizer.eosId) : ''),
  };
  const unsafe = input.messages.some((m) => containsControlText(tokenizer, m.content));
  if (!unsafe)
    return tokenizer.encode(template.render(withTokens), { parseSpecial: true, addBos: options.addBos });

  const placeholders = input.messages.map((m, i) => ({ ...m, content: `${OPEN}${i}${CLOSE}` }));
  const rendered = template.render({ ...withTokens, messages: placeholders });
  const ids: number[] = [];
  if (options.addBos && tokenizer.bosId !== null) ids.push(tokenizer.bosId);
  const re = new RegExp(`${OPEN}(\\d+)${CLOSE}`, 'g');
  let last = 0;
  for (const m of rendered.matchAll(re)) {
    ids.push(...tokenizer.encode(rendered.slice(last, m.index), { parseSpecial: true }));
    const msg = input.messages[Number(m[1])];
    if (msg) ids.push(...tokenizer.encode(msg.content, { parseSpecial: false }));
    last = m.index + m[0].length;
  }
  ids.push(...tokenizer.encode(rendered.slice(last), { parseSpecial: true }));
  return ids;
}
