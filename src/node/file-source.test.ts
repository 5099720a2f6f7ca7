import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgufReadError, GgufTruncatedError } from '../engine/gguf/errors.ts';
import { getString } from '../engine/gguf/metadata.ts';
import { quantize } from '../tools/gguf/quantize.ts';
import { readGguf, readTensorBytes } from '../engine/gguf/reader.ts';
import { GgmlType } from '../engine/gguf/types.ts';
import { kv, writeGguf } from '../tools/gguf/writer.ts';
import { FileOpenError, FileSource } from './file-source.ts';

describe('FileSource', () => {
  let dir = '';
  let path = '';
  const data = quantize(
    GgmlType.Q8_0,
    Array.from({ length: 64 }, (_, i) => i / 8),
  );
  const bytes = writeGguf({
    metadata: [['general.name', kv.str('한국어 모델')]],
    tensors: [{ name: 'w', dims: [32, 2], type: GgmlType.Q8_0, data }],
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dure-file-source-'));
    path = join(dir, 'm.gguf');
    await writeFile(path, bytes);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a GGUF from disk by range', async () => {
    const src = await FileSource.open(path);
    try {
      expect(src.size).toBe(bytes.byteLength);
      const file = await readGguf(src, { initialChunkBytes: 32 });
      expect(getString(file, 'general.name')).toBe('한국어 모델');
      expect(await readTensorBytes(file, file.tensors[0]!)).toEqual(data);
      await expect(src.read(bytes.byteLength - 2, 4)).rejects.toThrow(GgufTruncatedError);
    } finally {
      await src.close();
    }
  });

  it('turns I/O failures into GgufReadError', async () => {
    const src = await FileSource.open(path);
    await src.close();
    await expect(src.read(0, 4)).rejects.toThrow(GgufReadError);
  });

  it('reports files that cannot be opened with a typed error', async () => {
    await expect(FileSource.open(join(dir, 'missing.gguf'))).rejects.toThrow(FileOpenError);
    await expect(FileSource.open(dir)).rejects.toThrow(FileOpenError);
  });
});
