/**
 * A GGUF byte source over a file on disk, read by position with `FileHandle.read`, so a model of
 * any size is read only where needed.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { GgufReadError, GgufTruncatedError } from '../engine/gguf/errors.ts';
import { checkRange } from '../engine/gguf/sources.ts';
import type { ByteSource } from '../engine/gguf/types.ts';
import { FileOpenError } from '../protocol/errors.ts';
export { FileOpenError };

export class FileSource implements ByteSource {
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly path: string,
  ) {}

  /**
   * Opens `path` for reading.
   * @throws {FileOpenError} when the file cannot be opened or is not a regular file.
   */
  static async open(path: string): Promise<FileSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'unknown error';
      throw new FileOpenError(`cannot open ${path}: ${code}`, { cause: e });
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new FileOpenError(`${path} is not a regular file`);
      return new FileSource(handle, st.size, path);
    } catch (e) {
      await handle.close();
      throw e instanceof FileOpenError ? e : new FileOpenError(`cannot read ${path}`, { cause: e });
    }
  }

  /**
   * @throws {GgufTruncatedError} when the range is past the end (or the file shrank).
   * @throws {GgufReadError} on an I/O error (including reading after `close`).
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.readInto(offset, out);
    return out;
  }

  /** Reads into the caller's (reusable staging) buffer. Same errors as `read`. */
  async readInto(offset: number, out: Uint8Array): Promise<void> {
    const length = out.byteLength;
    checkRange(this.size, offset, length);
    let done = 0;
    while (done < length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.handle.read(out, done, length - done, offset + done));
      } catch (e) {
        const code = (e as { code?: string }).code ?? String(e);
        throw new GgufReadError(`cannot read ${this.path}: ${code}`, { cause: e });
      }
      if (bytesRead === 0) {
        throw new GgufTruncatedError(`${this.path} ended after ${offset + done} bytes`);
      }
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
