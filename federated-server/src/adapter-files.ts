/**
 * Reading safetensors adapters and updates from disk without loading more than needed:
 * headers are parsed and validated, tensor slices read by positional reads. Whether the tensors
 * are the adapter's is the shared adapter codec's check (src/protocol/adapter-codec.ts
 * `checkAdapterHeader`), run on the header alone.
 */
import { open } from 'node:fs/promises';
import { checkAdapterHeader, type AdapterExpectation } from '../../src/protocol/adapter-codec.ts';
import {
  DEFAULT_SAFETENSORS_LIMITS,
  decodeTensorData,
  parseHeader,
  readHeaderLength,
  type SafetensorsHeader,
  type TensorInfo,
} from '../../src/protocol/safetensors.ts';
import { SafetensorsError } from '../../src/protocol/errors.ts';
import type { Tensors } from './aggregation/strategies.ts';

/** Positional reads of plaintext bytes: a plain file, or a sealed blob (storage/sealed.ts). */
export interface RandomAccess {
  readonly size: number;
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

/** A plain file (an upload still in the store's tmp/) as a RandomAccess. */
export async function openPlainFile(path: string): Promise<RandomAccess> {
  const fh = await open(path, 'r');
  const size = (await fh.stat()).size;
  return {
    size,
    read: async (buf, offset, length, position) => (await fh.read(buf, offset, length, position)).bytesRead,
    close: () => fh.close(),
  };
}

/**
 * Opens a safetensors file (a path, or an opened RandomAccess it takes over) and validates its
 * header against the file's real size.
 * @throws {SafetensorsError} if the header is malformed or does not tile the file.
 */
export async function openSafetensors(
  source: string | RandomAccess,
  maxHeaderBytes = DEFAULT_SAFETENSORS_LIMITS.maxHeaderBytes,
): Promise<SafetensorsFile> {
  const fh = typeof source === 'string' ? await openPlainFile(source) : source;
  try {
    const size = fh.size;
    const first = new Uint8Array(8);
    await fh.read(first, 0, 8, 0);
    const limits = { ...DEFAULT_SAFETENSORS_LIMITS, maxHeaderBytes };
    const len = readHeaderLength(first, limits);
    const headerBytes = new Uint8Array(Math.min(len, Math.max(0, size - 8)));
    await fh.read(headerBytes, 0, headerBytes.length, 8);
    if (headerBytes.length !== len) throw new SafetensorsError('header runs past the end of the file');
    const header = parseHeader(headerBytes, size, limits);
    return new SafetensorsFile(fh, header);
  } catch (err) {
    await fh.close();
    throw err;
  }
}

export class SafetensorsFile {
  private readonly byName: Map<string, TensorInfo>;
  constructor(
    private readonly fh: RandomAccess,
    readonly header: SafetensorsHeader,
  ) {
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  info(name: string): TensorInfo | undefined {
    return this.byName.get(name);
  }

  /** `count` values of tensor `name` from element `start`, as float32. */
  async readSlice(name: string, start: number, count: number): Promise<Float32Array> {
    const t = this.byName.get(name);
    if (!t) throw new RangeError(`no tensor ${name}`);
    const width = t.dtype === 'F32' ? 4 : 2;
    const from = t.begin + start * width;
    if (start < 0 || count < 0 || from + count * width > t.end)
      throw new RangeError(`slice outside tensor ${name}`);
    const buf = new Uint8Array(count * width);
    const bytesRead = await this.fh.read(buf, 0, buf.length, from);
    if (bytesRead !== buf.length) throw new RangeError(`short read in ${name}`);
    return decodeTensorData(t.dtype, buf);
  }

  async readAll(): Promise<Tensors> {
    const out: Tensors = new Map();
    for (const t of this.header.tensors) {
      const n = t.shape.reduce((a, d) => a * d, 1);
      out.set(t.name, await this.readSlice(t.name, 0, n));
    }
    return out;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/**
 * Loads every tensor of a safetensors file; with `expected`, its header is first checked against
 * it by the adapter codec.
 * @throws {SafetensorsError} for a malformed file; {AdapterShapeError} for tensors not as expected.
 */
export async function readAdapterFile(
  source: string | RandomAccess,
  expected?: AdapterExpectation,
): Promise<Tensors> {
  const f = await openSafetensors(source);
  try {
    if (expected) checkAdapterHeader(f.header.tensors, expected);
    return await f.readAll();
  } finally {
    await f.close();
  }
}
