/**
 * Typed errors of the tokenizer. A GGUF whose tokenizer Dure cannot reproduce exactly fails here,
 * at load time, instead of producing subtly wrong token ids later.
 */
import { DureError, registerErrorClass } from '../errors.ts';

/** `tokenizer.ggml.model` or `tokenizer.ggml.pre` names a tokenizer Dure does not implement. */
export class TokenizerUnsupportedError extends DureError {
  override name = 'TokenizerUnsupportedError';
  constructor(message: string) {
    super('TOKENIZER_UNSUPPORTED', message);
  }
}

/** Tokenizer metadata is missing, has the wrong type, or contradicts itself. */
export class TokenizerMetadataError extends DureError {
  override name = 'TokenizerMetadataError';
  constructor(message: string) {
    super('TOKENIZER_METADATA', message);
  }
}

/** A token id outside the vocabulary (e.g. a malformed `--ids` list). */
export class TokenIdError extends DureError {
  override name = 'TokenIdError';
  constructor(message: string) {
    super('TOKEN_ID_OUT_OF_RANGE', message);
  }
}

/** Text too large to tokenize in one call. */
export class TokenizerInputError extends DureError {
  override name = 'TokenizerInputError';
  constructor(message: string) {
    super('TOKENIZER_INPUT', message);
  }
}

registerErrorClass('TokenizerInputError', TokenizerInputError);
registerErrorClass('TokenizerUnsupportedError', TokenizerUnsupportedError);
registerErrorClass('TokenizerMetadataError', TokenizerMetadataError);
registerErrorClass('TokenIdError', TokenIdError);
