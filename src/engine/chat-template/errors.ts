import { DureError, registerErrorClass } from '../errors.ts';

/** The chat template cannot be parsed or fails while rendering. */
export class ChatTemplateError extends DureError {
  override name = 'ChatTemplateError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('CHAT_TEMPLATE', message, options);
  }
}

/** The template itself refused the conversation (`raise_exception`, e.g. roles must alternate). */
export class ChatTemplateRejectedError extends DureError {
  override name = 'ChatTemplateRejectedError';
  constructor(message: string) {
    super('CHAT_TEMPLATE_REJECTED', message);
  }
}

registerErrorClass('ChatTemplateError', ChatTemplateError);
registerErrorClass('ChatTemplateRejectedError', ChatTemplateRejectedError);
