export {
  ChatTemplate,
  chatTemplateFromMetadata,
  MAX_TEMPLATE_CHARS,
  type ChatTemplateInput,
} from './chat-template.ts';
export { ChatTemplateError, ChatTemplateRejectedError } from './errors.ts';
export { encodeChat } from './encode-chat.ts';
