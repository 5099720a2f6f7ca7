/**
 * The chat template a model uses: its own from GGUF metadata, else ChatML. Inference and training
 * must render prompts identically (a LoRA trained on one layout answers badly in another), so both
 * ask here.
 */
import type { GgufKv } from '../gguf/types.ts';
import { ChatTemplate, chatTemplateFromMetadata } from './index.ts';

export const CHATML_SOURCE =
  "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Parsed once, on first use; a ChatTemplate only renders, so every caller can share it. */
let chatml: ChatTemplate | undefined;

/** @throws {import('./errors.ts').ChatTemplateError} when the model's template does not parse. */
export function modelChatTemplate(metadata: ReadonlyMap<string, GgufKv>): ChatTemplate {
  return chatTemplateFromMetadata(metadata) ?? (chatml ??= new ChatTemplate(CHATML_SOURCE));
}
