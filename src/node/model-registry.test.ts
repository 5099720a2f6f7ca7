/**
 * `dure models add` underneath: a real generated model is checked and registered where the demo
 * portal reads it; files the WebGPU engine would refuse (another architecture, a tensor type with
 * no GPU kernel, cut short, not GGUF) are refused with their typed error and nothing is written.
 * Variants are rewritten from the generated test model (the same reader and writer the project
 * uses), so no new model is built.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGguf, readTensorBytes } from '../engine/gguf/reader.ts';
import { ggmlByteLength, KNOWN_GGML_TYPES, ggmlTypeTraits } from '../engine/gguf/quant/traits.ts';
import { GgmlType, GgufValueType, type GgufKv } from '../engine/gguf/types.ts';
import { GPU_WEIGHT_TYPES } from '../engine/gpu/weight-layout.ts';
import { modelConfig } from '../engine/model/config.ts';
import {
  GgufBadMagicError,
  GgufTensorOutOfBoundsError,
  GgufTruncatedError,
  UnsupportedArchitectureError,
  UnsupportedWeightTypeError,
} from '../protocol/errors.ts';
import { testModelPath } from '../testing/test-models.ts';
import { writeGguf, type GgufTensorInput } from '../tools/gguf/writer.ts';
import { DEFAULT_CONTEXT, SCRATCH_BYTES } from '../model-manager/model-check.ts';
import { refusalText } from '../model-manager/refusal-text.ts';
import { FileSource } from './file-source.ts';
import { modelId, registerModel, sha256File, type ModelRegistry } from './model-registry.ts';

let dir = '';
let modelPath = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dure-models-'));
  modelPath = await testModelPath({ arch: 'qwen2', quant: 'Q4_K_M' });
  await mkdir(join(dir, 'in'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Rewrites the test model with changed metadata and/or one tensor turned into `type` (zero bytes). */
async function variant(
  name: string,
  change: { metadata?: Record<string, GgufKv>; tensor?: string; type?: GgmlType; license?: string },
): Promise<string> {
  const source = await FileSource.open(modelPath);
  try {
    const file = await readGguf(source);
    const metadata = new Map(file.metadata);
    for (const [k, v] of Object.entries(change.metadata ?? {})) metadata.set(k, v);
    const tensors: GgufTensorInput[] = [];
    for (const t of file.tensors) {
      if (t.name === change.tensor && change.type !== undefined) {
        tensors.push({
          name: t.name,
          dims: t.dims,
          type: change.type,
          data: new Uint8Array(ggmlByteLength(change.type, t.elements)),
        });
      } else {
        tensors.push({ name: t.name, dims: t.dims, type: t.type, data: await readTensorBytes(file, t) });
      }
    }
    const path = join(dir, 'in', name);
    await writeFile(path, writeGguf({ metadata, tensors }));
    return path;
  } finally {
    await source.close();
  }
}

/** A type the reader knows, that has no GPU kernel here, and whose blocks fit a 64-long row. */
function typeWithoutGpuKernel(): GgmlType {
  const gpu = new Set<number>(GPU_WEIGHT_TYPES);
  const t = KNOWN_GGML_TYPES.find((x) => !gpu.has(x) && 64 % ggmlTypeTraits(x).blockSize === 0);
  if (t === undefined) throw new Error('every known type has a GPU kernel: pick another refusal case');
  return t;
}

async function filesIn(d: string): Promise<string[]> {
  return readdir(d).catch(() => []);
}

describe('registerModel', () => {
  it('checks a real generated model, registers it and makes it the portal default', async () => {
    const licensed = await variant('licensed.gguf', {
      metadata: {
        'general.license': { type: GgufValueType.STRING, value: 'apache-2.0' },
        'general.license.link': { type: GgufValueType.STRING, value: 'https://example.org/LICENSE' },
      },
    });
    const out = join(dir, 'ok');
    const r = await registerModel(licensed, { dir: out, name: 'Qwen Test 0.5B' });

    const bytes = await readFile(licensed);
    expect(r.descriptor.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(r.descriptor.bytes).toBe(bytes.byteLength);
    expect(r.descriptor).toMatchObject({
      id: 'qwen-test-0.5b',
      file: 'qwen-test-0.5b.gguf',
      name: 'Qwen Test 0.5B',
    });
    expect(r.descriptor.license).toEqual({
      id: 'apache-2.0',
      name: null,
      link: 'https://example.org/LICENSE',
    });
    expect(r.check.refusal).toBeNull();
    expect(r.check.unsupportedTensors).toEqual([]);

    // Parameters and the KV estimate follow from the file's own header and config.
    const source = await FileSource.open(licensed);
    const file = await readGguf(source);
    await source.close();
    expect(r.check.parameters).toBe(file.tensors.reduce((s, t) => s + t.elements, 0));
    const cfg = modelConfig(file);
    const ctx = Math.min(DEFAULT_CONTEXT, cfg.contextLength);
    expect(r.check.fit.contextLength).toBe(ctx);
    expect(r.check.fit.kvCacheBytes).toBe(2 * cfg.nLayer * cfg.nKv * cfg.headDim * ctx * 4);
    expect(r.check.fit.totalBytes).toBe(r.check.fit.weightBytes + r.check.fit.kvCacheBytes + SCRATCH_BYTES);
    expect(r.check.fit.fits).toBe(true);

    // The served copy is the same bytes; descriptor and registry are what the demo page reads.
    expect((await readFile(join(out, 'qwen-test-0.5b.gguf'))).equals(bytes)).toBe(true);
    const descriptor = JSON.parse(await readFile(join(out, 'qwen-test-0.5b.json'), 'utf8')) as unknown;
    expect(descriptor).toEqual(r.descriptor);
    const registry = JSON.parse(await readFile(join(out, 'registry.json'), 'utf8')) as ModelRegistry;
    expect(registry.default).toBe('qwen-test-0.5b');
    expect(registry.models).toEqual([
      {
        id: 'qwen-test-0.5b',
        file: 'qwen-test-0.5b.gguf',
        name: 'Qwen Test 0.5B',
        license: 'apache-2.0',
        sha256: r.descriptor.sha256,
      },
    ]);

    // A second model added without becoming the default keeps the first one as the portal's.
    await registerModel(modelPath, { dir: out, id: 'second', makeDefault: false });
    const after = JSON.parse(await readFile(join(out, 'registry.json'), 'utf8')) as ModelRegistry;
    expect(after.default).toBe('qwen-test-0.5b');
    expect(after.models.map((m) => m.id)).toEqual(['qwen-test-0.5b', 'second']);
    // A tiny GPU budget says "does not fit" (a warning, not a refusal).
    const small = await registerModel(modelPath, {
      dir: out,
      id: 'second',
      makeDefault: false,
      budgetBytes: 1024,
    });
    expect(small.check.fit.fits).toBe(false);
  });

  it('refuses a tensor type without a GPU kernel, naming tensor and type, and writes nothing', async () => {
    const type = typeWithoutGpuKernel();
    const path = await variant('type.gguf', { tensor: 'blk.0.ffn_down.weight', type });
    const out = join(dir, 'type');
    const err = await registerModel(path, { dir: out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedWeightTypeError);
    expect((err as Error).message).toContain(`blk.0.ffn_down.weight (${GgmlType[type]})`);
    expect(refusalText(err as UnsupportedWeightTypeError, 'ko')).toContain(
      `이 모델 파일의 형식(${GgmlType[type]})은 지원하지 않아`,
    );
    expect(refusalText(err as UnsupportedWeightTypeError, 'ko', 'operator')).toContain(
      `이 모델 파일(${GgmlType[type]})은 두레의 WebGPU 엔진이 아직 실행하지 못합니다`,
    );
    expect(await filesIn(out)).toEqual([]);
  });

  it('refuses an architecture the engine does not run, and writes nothing', async () => {
    const path = await variant('arch.gguf', {
      metadata: { 'general.architecture': { type: GgufValueType.STRING, value: 'mamba' } },
    });
    const out = join(dir, 'arch');
    const err = await registerModel(path, { dir: out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedArchitectureError);
    expect(refusalText(err as UnsupportedArchitectureError, 'ko')).toContain('이 모델의 구조(mamba)는');
    expect(await filesIn(out)).toEqual([]);
  });

  it('refuses a file cut short or not GGUF at all, and writes nothing', async () => {
    const bytes = await readFile(modelPath);
    const cutData = join(dir, 'in', 'cut-data.gguf');
    await writeFile(cutData, bytes.subarray(0, bytes.byteLength - 1000));
    const cutHeader = join(dir, 'in', 'cut-header.gguf');
    await writeFile(cutHeader, bytes.subarray(0, 300));
    const notGguf = join(dir, 'in', 'not.gguf');
    await writeFile(notGguf, 'hello, not a model\n');
    const out = join(dir, 'bad');
    await expect(registerModel(cutData, { dir: out })).rejects.toThrow(GgufTensorOutOfBoundsError);
    await expect(registerModel(cutHeader, { dir: out })).rejects.toThrow(GgufTruncatedError);
    await expect(registerModel(notGguf, { dir: out })).rejects.toThrow(GgufBadMagicError);
    expect(await filesIn(out)).toEqual([]);
  });

  it('refuses the ids the repository uses for its own demo model', async () => {
    await expect(registerModel(modelPath, { dir: join(dir, 'reserved'), id: 'demo' })).rejects.toThrow(
      /reserved/,
    );
  });
});

describe('sha256File', () => {
  it('streams the file and agrees with hashing it whole', async () => {
    expect((await stat(modelPath)).size).toBeGreaterThan(1024 * 1024);
    const whole = createHash('sha256')
      .update(await readFile(modelPath))
      .digest('hex');
    expect(await sha256File(modelPath)).toBe(whole);
  });
});

describe('modelId', () => {
  it('makes a file-name-safe id', () => {
    expect(modelId('Qwen2.5-0.5B Instruct.gguf')).toBe('qwen2.5-0.5b-instruct');
    expect(modelId('../../etc/passwd')).toBe('etc-passwd');
  });
});
