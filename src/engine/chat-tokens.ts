/**
 * A conversation's prompt tokens from a GGUF's own tokenizer and chat template, read from the
 * file's header alone (no weights): for engines whose runtime cannot tokenize on request
 * (llama.cpp in WebAssembly through wllama), so callers can still fit a conversation into the
 * context with the model's real counts.
 */
import type { ChatMessage } from './api.ts';
import { encodeChat } from './chat-template/index.ts';
import { modelChatTemplate } from './chat-template/fallback.ts';
import { readGguf } from './gguf/reader.ts';
import { BlobSource } from './gguf/sources.ts';
import type { ByteSource } from './gguf/types.ts';
import { createTokenizer } from './tokenizer/index.ts';

export type ChatTokenCounter = (messages: ChatMessage[]) => number;

/**
 * @param options.addBos count the BOS token the runtime adds in front of the rendered template
 *   (llama.cpp's server tokenizes the prompt with the vocabulary's add-BOS setting).
 * @throws {import('./gguf/errors.ts').GgufReadError} and the other GGUF/tokenizer errors.
 */
export async function chatTokenCounter(
  source: ByteSource | Blob,
  options: { addBos?: boolean } = {},
): Promise<ChatTokenCounter> {
  const file = await readGguf(source instanceof Blob ? new BlobSource(source) : source);
  const tokenizer = createTokenizer(file.metadata);
  const template = modelChatTemplate(file.metadata);
  const bos = options.addBos && tokenizer.shouldAddBos && tokenizer.bosId !== null ? 1 : 0;
  return (messages) => bos + encodeChat(template, tokenizer, { messages }, { addBos: false }).length;
}
