/**
 * Typed errors of the GGUF reader, writer and quant code. Every malformed file ends in one of these
 * (never a RangeError from a DataView or an out-of-memory from a trusted length), so callers can
 * branch on `code` and the UI can say what is wrong with the user's file.
 */
export {
  GgufTruncatedError,
  GgufBadMagicError,
  GgufUnsupportedVersionError,
  GgufUnknownTypeError,
  GgufTensorOutOfBoundsError,
  GgufLimitError,
  GgufUnknownArchError,
  GgufMetadataError,
  GgufInvalidError,
  GgufReadError,
} from '../../protocol/errors.ts';
