/**
 * `dure generate` and `dure logits` as outside checks run them: the real launcher in a child
 * process (which finds the software adapter itself), compared with the engine in this process.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGpuEngine } from '../../engine/engine.ts';
import { FileSource } from '../../node/file-source.ts';
import { relL2 } from '../../testing/gpu-harness.ts';
import { testGpu } from '../../testing/node-gpu.ts';
import { testModelPath } from '../../testing/test-models.ts';

const exec = promisify(execFile);
const BIN = new URL('../../../bin/dure.js', import.meta.url).pathname;
const IDS = [1, 17, 200, 33, 5];

async function dure(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('node', [BIN, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('dure generate / logits', () => {
  let model: string;
  let engine: WebGpuEngine;
  beforeAll(async () => {
    model = await testModelPath({ arch: 'qwen2', quant: 'Q4_K' });
    engine = new WebGpuEngine((await testGpu()).device);
    await engine.loadSource(await FileSource.open(model));
  });
  afterAll(() => engine.dispose());

  it('prints the last-position logits as JSON, equal to the engine', async () => {
    const r = await dure('logits', '--model', model, '--prompt-ids', IDS.join(','), '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WebGPU adapter: /);
    const { logits } = JSON.parse(r.stdout) as { logits: number[] };
    expect(logits.length).toBe(engine.model.cfg.nVocab);
    expect(relL2(logits, await engine.logits(IDS))).toBeLessThan(1e-6);
  });

  it('generates greedy ids and text as JSON, equal to the engine', async () => {
    const r = await dure(
      'generate',
      '--model',
      model,
      '--prompt-ids',
      IDS.join(','),
      '--max-tokens',
      '8',
      '--greedy',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { ids: number[]; text: string };
    const g = engine.generate({ promptIds: IDS, maxTokens: 8, greedy: true });
    let res;
    for (;;) {
      const n = await g.next();
      if (n.done) {
        res = n.value;
        break;
      }
    }
    expect(out.ids).toEqual(res.ids);
    expect(out.text).toBe(res.text);
  });

  it('reports bad input on stderr with the error code and a non-zero exit', async () => {
    const bad = await dure('logits', '--model', model, '--prompt-ids', '1,x');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/error CLI_ARGS:/);
    const missing = await dure('generate', '--model', '/nonexistent/model.gguf', '--prompt', '안녕');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/error [A-Z_]+: /);
  });
});
