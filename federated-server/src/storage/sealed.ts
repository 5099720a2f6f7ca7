/**
 * Blobs at rest, sealed with AES-256-GCM (node:crypto) in fixed-size segments so a tensor slice
 * or an HTTP range can be read without decrypting the whole file.
 *
 * Layout: header (magic `DURESEAL`, version 1, 3 zero bytes, 32-byte random salt) followed by
 * segments of SEGMENT plaintext bytes, each `ciphertext ‖ 16-byte tag`; the last one may be
 * shorter (an empty blob is one empty final segment). Each blob gets its own key,
 * HKDF-SHA256(master key, salt), so nonces are simply the segment counter with a final-segment
 * flag (the STREAM construction of Hoang et al. 2015): reordering, truncating or extending
 * segments, or swapping headers, fails authentication. The header is every segment's AAD.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { BlobIntegrityError } from '../../../src/protocol/errors.ts';

export const BLOB_KEY_BYTES = 32;
/** Plaintext bytes per segment (64 KiB): a tensor slice read decrypts at most two extra segments. */
export const SEGMENT = 65_536;
const TAG = 16;
const MAGIC = new TextEncoder().encode('DURESEAL');
const HEADER = MAGIC.length + 4 + 32;

function header(salt: Uint8Array): Uint8Array {
  const h = new Uint8Array(HEADER);
  h.set(MAGIC, 0);
  h[MAGIC.length] = 1;
  h.set(salt, MAGIC.length + 4);
  return h;
}

function blobKey(master: Uint8Array, salt: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', master, salt, 'dure blob v1', BLOB_KEY_BYTES));
}

function nonce(index: number, final: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 3);
  n[11] = final ? 1 : 0;
  return n;
}

/** Ciphertext size of a plaintext of `size` bytes. */
export function sealedSize(size: number): number {
  return HEADER + size + Math.max(1, Math.ceil(size / SEGMENT)) * TAG;
}

/** Plaintext size of a sealed file of `fileSize` bytes. */
function plainSize(fileSize: number): number {
  const body = fileSize - HEADER;
  const segments = Math.max(1, Math.ceil(body / (SEGMENT + TAG)));
  const size = body - segments * TAG;
  if (body < TAG || size < 0) throw new BlobIntegrityError('sealed blob is truncated');
  return size;
}

/**
 * Writes `size` plaintext bytes, read through `readPlain`, sealed into `fh` (from position 0).
 */
export async function writeSealed(
  master: Uint8Array,
  fh: FileHandle,
  size: number,
  readPlain: (position: number, length: number) => Promise<Uint8Array>,
): Promise<void> {
  const h = header(randomBytes(32));
  const key = blobKey(master, h.subarray(MAGIC.length + 4));
  await fh.write(h, 0, h.length, 0);
  let at = HEADER;
  const segments = Math.max(1, Math.ceil(size / SEGMENT));
  for (let i = 0; i < segments; i++) {
    const plain = await readPlain(i * SEGMENT, Math.min(SEGMENT, size - i * SEGMENT));
    const c = createCipheriv('aes-256-gcm', key, nonce(i, i === segments - 1));
    c.setAAD(h);
    const out = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
    await fh.write(out, 0, out.length, at);
    at += out.length;
  }
}

/** A sealed blob opened for random-access reads of its plaintext. */
export class SealedFile {
  private cached: { index: number; plain: Buffer } | undefined;
  private constructor(
    private readonly fh: FileHandle,
    private readonly key: Buffer,
    private readonly header: Uint8Array,
    private readonly segments: number,
    /** Plaintext size in bytes. */
    readonly size: number,
  ) {}

  /**
   * Opens and checks the header; segments are authenticated as they are read.
   * @throws {BlobIntegrityError} BLOB_TAMPERED if the file is not a sealed blob or is truncated.
   */
  static async open(master: Uint8Array, path: string): Promise<SealedFile> {
    const fh = await open(path, 'r');
    try {
      const fileSize = (await fh.stat()).size;
      const h = new Uint8Array(HEADER);
      const { bytesRead } = await fh.read(h, 0, HEADER, 0);
      if (bytesRead !== HEADER || !MAGIC.every((b, i) => h[i] === b) || h[MAGIC.length] !== 1)
        throw new BlobIntegrityError('not a sealed blob (no DURESEAL v1 header)');
      const size = plainSize(fileSize);
      const segments = Math.max(1, Math.ceil(size / SEGMENT));
      return new SealedFile(fh, blobKey(master, h.subarray(MAGIC.length + 4)), h, segments, size);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  private async segment(index: number): Promise<Buffer> {
    if (this.cached?.index === index) return this.cached.plain;
    const plainLength = index === this.segments - 1 ? this.size - index * SEGMENT : SEGMENT;
    const buf = Buffer.alloc(plainLength + TAG);
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, HEADER + index * (SEGMENT + TAG));
    if (bytesRead !== buf.length) throw new BlobIntegrityError('sealed blob is truncated');
    const d = createDecipheriv('aes-256-gcm', this.key, nonce(index, index === this.segments - 1));
    d.setAAD(this.header);
    d.setAuthTag(buf.subarray(plainLength));
    let plain: Buffer;
    try {
      plain = Buffer.concat([d.update(buf.subarray(0, plainLength)), d.final()]);
    } catch (cause) {
      throw new BlobIntegrityError(`sealed blob segment ${index} failed authentication`, 'BLOB_TAMPERED', {
        cause,
      });
    }
    this.cached = { index, plain };
    return plain;
  }

  /** Reads plaintext bytes [position, position + length) into `buf` at `offset`; returns the count. */
  async read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const end = Math.min(this.size, position + length);
    let at = position;
    while (at < end) {
      const index = Math.floor(at / SEGMENT);
      const seg = await this.segment(index);
      const from = at - index * SEGMENT;
      const n = Math.min(seg.length - from, end - at);
      buf.set(seg.subarray(from, from + n), offset + (at - position));
      at += n;
    }
    return Math.max(0, end - position);
  }

  /** The plaintext from `start` to `end` (inclusive), streamed segment by segment. */
  async *stream(start = 0, end = this.size - 1): AsyncGenerator<Buffer> {
    for (let at = start; at <= end;) {
      const index = Math.floor(at / SEGMENT);
      const seg = await this.segment(index);
      const from = at - index * SEGMENT;
      const to = Math.min(seg.length, end - index * SEGMENT + 1);
      yield Buffer.from(seg.subarray(from, to));
      at += to - from;
    }
  }

  /** The whole plaintext (every segment authenticated). */
  async readAll(): Promise<Uint8Array> {
    const out = new Uint8Array(this.size);
    await this.read(out, 0, this.size, 0);
    if (this.size === 0) await this.segment(0); // an empty blob still has a tag to check
    return out;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/**
 * Decodes DURE_BLOB_KEY (32 bytes, base64url without padding).
 * @throws {BlobIntegrityError} BLOB_KEY if it is not exactly that.
 */
export function parseBlobKey(text: string): Uint8Array {
  const t = text.trim();
  if (!/^[A-Za-z0-9_-]{43}$/.test(t))
    throw new BlobIntegrityError('DURE_BLOB_KEY must be 32 bytes in base64url (43 characters)', 'BLOB_KEY');
  const key = Buffer.from(t, 'base64url');
  if (key.length !== BLOB_KEY_BYTES)
    throw new BlobIntegrityError('DURE_BLOB_KEY must decode to 32 bytes', 'BLOB_KEY');
  return new Uint8Array(key);
}
