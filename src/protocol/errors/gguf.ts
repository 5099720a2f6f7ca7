/** Error classes: gguf files. Codes and messages are catalogued in ../errors.ts. */
import { DureError, type DureErrorOptions } from './dure-error.ts';

/** The file ends before a header field, string, array or tensor that it declares. */
export class GgufTruncatedError extends DureError {
  override name = 'GgufTruncatedError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GGUF_TRUNCATED', message, options);
  }
}

/** The first four bytes are not `GGUF`. */
export class GgufBadMagicError extends DureError {
  override name = 'GgufBadMagicError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GGUF_BAD_MAGIC', message, options);
  }
}

/** A GGUF version this reader does not speak (only 2 and 3 are supported). */
export class GgufUnsupportedVersionError extends DureError {
  override name = 'GgufUnsupportedVersionError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GGUF_UNSUPPORTED_VERSION', message, options);
  }
}

/** An unknown metadata value type or ggml tensor type, or a known type with no CPU implementation. */
export class GgufUnknownTypeError extends DureError {
  override name = 'GgufUnknownTypeError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GGUF_UNKNOWN_TYPE', message, options);
  }
}

/** A tensor's data lies (partly) outside the file or is misaligned. */
export class GgufTensorOutOfBoundsError extends DureError {
  override name = 'GgufTensorOutOfBoundsError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GGUF_TENSOR_OUT_OF_BOUNDS', message, options);
  }
}

/** A count or length that cannot be honest (longer than the file, absurd dimension): refused before allocating. */
export class GgufLimitError extends DureError {
  override name = 'GgufLimitError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GGUF_LIMIT', message, options);
  }
}

/** `general.architecture` names an architecture Dure does not run. */
export class GgufUnknownArchError extends DureError {
  override name = 'GgufUnknownArchError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GGUF_UNKNOWN_ARCH', message, options);
  }
}

/** A metadata key is missing or holds a value of another type than the caller needs. */
export class GgufMetadataError extends DureError {
  override name = 'GgufMetadataError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GGUF_METADATA', message, options);
  }
}

/** The file is structurally valid but contradicts itself (duplicate keys or tensors, bad alignment, wrong sizes). */
export class GgufInvalidError extends DureError {
  override name = 'GgufInvalidError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GGUF_INVALID', message, options);
  }
}

/** The bytes could not be read at all (file removed or changed while reading, I/O error). */
export class GgufReadError extends DureError {
  override name = 'GgufReadError';
  constructor(message: string, options?: DureErrorOptions) {
    super('GGUF_READ', message, options);
  }
}
