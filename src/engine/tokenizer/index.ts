export { createTokenizer, Tokenizer, type DecodeOptions, type EncodeOptions } from './tokenizer.ts';
export { StreamingDecoder, type StreamingDecoderOptions } from './streaming-decoder.ts';
export {
  TokenIdError,
  TokenizerInputError,
  TokenizerMetadataError,
  TokenizerUnsupportedError,
} from './errors.ts';
export { knownPreTokenizers } from './pre-tokenizer.ts';
