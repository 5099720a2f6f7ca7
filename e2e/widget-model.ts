/**
 * The model the widget's end-to-end tests download: the project's tiny generated llama GGUF
 * (random weights, Korean-corpus BPE vocabulary, a chat template). Generated into the ignored
 * cache, then copied into the preview server's `dist/models/` at test time — never committed.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testModelPath } from '../src/testing/test-models.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface WidgetModel {
  /** URL path on the preview server. */
  url: string;
  sha256: string;
  bytes: number;
}

/** Generates (once, cached) and publishes the widget test model; returns where it is served. */
export async function publishWidgetModel(name = 'widget-test.gguf'): Promise<WidgetModel> {
  const cached = await testModelPath({ arch: 'llama', quant: 'Q8_0', tokenizer: 'corpus-bpe' });
  const bytes = await readFile(cached);
  const dest = join(ROOT, process.env['DURE_E2E_OUTDIR'] ?? 'dist', 'models', name);
  await mkdir(dirname(dest), { recursive: true });
  const stale = await stat(dest).then(
    (s) => s.size !== bytes.byteLength,
    () => true,
  );
  if (stale) await copyFile(cached, dest);
  return {
    url: `/models/${name}`,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.byteLength,
  };
}
