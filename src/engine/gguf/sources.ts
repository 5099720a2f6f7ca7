/**
 * Platform-neutral byte sources for the GGUF reader: memory and Blob (a browser `File`, or an OPFS
 * file from `FileSystemFileHandle.getFile()`). The Node file source lives in src/node/file-source.ts.
 */
import { GgufInvalidError, GgufReadError, GgufTruncatedError } from './errors.ts';
import type { ByteSource } from './types.ts';

/**
 * Checks that `[offset, offset + length)` is a valid range of a source of `size` bytes.
 * @throws {GgufInvalidError} for a negative or non-integer offset or length.
 * @throws {GgufTruncatedError} when the range ends past `size`.
 */
export function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new GgufInvalidError(`invalid byte range: offset ${offset}, length ${length}`);
  }
  if (offset + length > size) {
    throw new GgufTruncatedError(
      `read of ${length} bytes at offset ${offset} runs past the end of the ${size}-byte file`,
    );
  }
}

/** Bytes already in memory. `read` returns views into them, never copies. */
export class MemorySource implements ByteSource {
  readonly size: number;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array | ArrayBuffer) {
    // A plain Uint8Array view even for a Node Buffer, whose slice() is a view, not a copy.
    this.bytes =
      bytes instanceof Uint8Array
        ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        : new Uint8Array(bytes);
    this.size = this.bytes.byteLength;
  }

  /** @throws {GgufTruncatedError} when the range is past the end. */
  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      checkRange(this.size, offset, length);
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve(this.bytes.subarray(offset, offset + length));
  }
}

/**
 * A Blob, File or OPFS file, read by range with `blob.slice(...).arrayBuffer()` so a multi-GB model
 * is never loaded whole.
 */
export class BlobSource implements ByteSource {
  readonly size: number;

  constructor(private readonly blob: Blob) {
    this.size = blob.size;
  }

  /**
   * @throws {GgufTruncatedError} when the range is past the end (or the blob shrank).
   * @throws {GgufReadError} when the browser cannot read the file (e.g. it changed on disk).
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.size, offset, length);
    let buf: ArrayBuffer;
    try {
      buf = await this.blob.slice(offset, offset + length).arrayBuffer();
    } catch (e) {
      throw new GgufReadError(`cannot read ${length} bytes at offset ${offset}: ${String(e)}`, { cause: e });
    }
    if (buf.byteLength !== length) {
      throw new GgufTruncatedError(`blob returned ${buf.byteLength} of ${length} bytes at offset ${offset}`);
    }
    return new Uint8Array(buf);
  }
}
