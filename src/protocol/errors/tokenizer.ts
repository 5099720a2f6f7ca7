/** Error classes: tokenizer and chat template. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** `tokenizer.ggml.model` or `tokenizer.ggml.pre` names a tokenizer Dure does not implement. */
export class TokenizerUnsupportedError extends DureError {
  override name = 'TokenizerUnsupportedError';
  constructor(message: string, options?: DureErrorOptions) {
    super('TOKENIZER_UNSUPPORTED', message, options);
  }
}

/** Tokenizer metadata is missing, has the wrong type, or contradicts itself. */
export class TokenizerMetadataError extends DureError {
  override name = 'TokenizerMetadataError';
  constructor(message: string, options?: DureErrorOptions) {
    super('TOKENIZER_METADATA', message, options);
  }
}

/** A token id outside the vocabulary (e.g. a malformed `--ids` list). */
export class TokenIdError extends DureError {
  override name = 'TokenIdError';
  constructor(message: string, options?: DureErrorOptions) {
    super('TOKEN_ID_OUT_OF_RANGE', message, options);
  }
}

/** Text too large to tokenize in one call. */
export class TokenizerInputError extends DureError {
  override name = 'TokenizerInputError';
  constructor(message: string, options?: DureErrorOptions) {
    super('TOKENIZER_INPUT', message, options);
  }
}

/** A Hugging Face tokenizer.json cannot be converted to GGUF tokenizer metadata. */
export class TokenizerConversionError extends DureError {
  override name = 'TokenizerConversionError';
  constructor(message: string, options?: DureErrorOptions) {
    super('TOKENIZER_CONVERSION', message, options);
  }
}

/** The chat template cannot be parsed or fails while rendering. */
export class ChatTemplateError extends DureError {
  override name = 'ChatTemplateError';
  constructor(message: string, options?: DureErrorOptions) {
    super('CHAT_TEMPLATE', message, options);
  }
}

/** The template itself refused the conversation (`raise_exception`, e.g. roles must alternate). */
export class ChatTemplateRejectedError extends DureError {
  override name = 'ChatTemplateRejectedError';
  constructor(message: string, options?: DureErrorOptions) {
    super('CHAT_TEMPLATE_REJECTED', message, options);
  }
}
