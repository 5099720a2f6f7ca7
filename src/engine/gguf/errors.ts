/**
 * Typed errors of the GGUF reader, writer and quant code. Every malformed file ends in one of these
 * (never a RangeError from a DataView or an out-of-memory from a trusted length), so callers can
 * branch on `code` and the UI can say what is wrong with the user's file.
 */
import { DureError, registerErrorClass } from '../errors.ts';

/** The file ends before a header field, string, array or tensor that it declares. */
export class GgufTruncatedError extends DureError {
  override name = 'GgufTruncatedError';
  constructor(message: string) {
    super('GGUF_TRUNCATED', message);
  }
}

/** The first four bytes are not `GGUF`. */
export class GgufBadMagicError extends DureError {
  override name = 'GgufBadMagicError';
  constructor(message: string) {
    super('GGUF_BAD_MAGIC', message);
  }
}

/** A GGUF version this reader does not speak (only 2 and 3 are supported). */
export class GgufUnsupportedVersionError extends DureError {
  override name = 'GgufUnsupportedVersionError';
  constructor(message: string) {
    super('GGUF_UNSUPPORTED_VERSION', message);
  }
}

/** An unknown metadata value type or ggml tensor type, or a known type with no CPU implementation. */
export class GgufUnknownTypeError extends DureError {
  override name = 'GgufUnknownTypeError';
  constructor(message: string) {
    super('GGUF_UNKNOWN_TYPE', message);
  }
}

/** A tensor's data lies (partly) outside the file or is misaligned. */
export class GgufTensorOutOfBoundsError extends DureError {
  override name = 'GgufTensorOutOfBoundsError';
  constructor(message: string) {
    super('GGUF_TENSOR_OUT_OF_BOUNDS', message);
  }
}

/** A count or length that cannot be honest (longer than the file, absurd dimension): refused before allocating. */
export class GgufLimitError extends DureError {
  override name = 'GgufLimitError';
  constructor(message: string) {
    super('GGUF_LIMIT', message);
  }
}

/** `general.architecture` names an architecture Dure does not run. */
export class GgufUnknownArchError extends DureError {
  override name = 'GgufUnknownArchError';
  constructor(message: string) {
    super('GGUF_UNKNOWN_ARCH', message);
  }
}

/** A metadata key is missing or holds a value of another type than the caller needs. */
export class GgufMetadataError extends DureError {
  override name = 'GgufMetadataError';
  constructor(message: string) {
    super('GGUF_METADATA', message);
  }
}

/**
 * Structurally invalid content that is none of the above: duplicate keys or tensor names, invalid
 * UTF-8, a tensor whose row length is not a multiple of its type's block size, bad alignment.
 */
export class GgufInvalidError extends DureError {
  override name = 'GgufInvalidError';
  constructor(message: string) {
    super('GGUF_INVALID', message);
  }
}

/** The bytes could not be read at all (file removed or changed while reading, I/O error). */
export class GgufReadError extends DureError {
  override name = 'GgufReadError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('GGUF_READ', message, options);
  }
}

registerErrorClass('GgufTruncatedError', GgufTruncatedError);
registerErrorClass('GgufReadError', GgufReadError);
registerErrorClass('GgufBadMagicError', GgufBadMagicError);
registerErrorClass('GgufUnsupportedVersionError', GgufUnsupportedVersionError);
registerErrorClass('GgufUnknownTypeError', GgufUnknownTypeError);
registerErrorClass('GgufTensorOutOfBoundsError', GgufTensorOutOfBoundsError);
registerErrorClass('GgufLimitError', GgufLimitError);
registerErrorClass('GgufUnknownArchError', GgufUnknownArchError);
registerErrorClass('GgufMetadataError', GgufMetadataError);
registerErrorClass('GgufInvalidError', GgufInvalidError);
