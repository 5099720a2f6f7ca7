/**
 * Typed errors of the tokenizer. A GGUF whose tokenizer Dure cannot reproduce exactly fails here,
 * at load time, instead of producing subtly wrong token ids later.
 */
export {
  TokenizerUnsupportedError,
  TokenizerMetadataError,
  TokenIdError,
  TokenizerInputError,
} from '../../protocol/errors.ts';
