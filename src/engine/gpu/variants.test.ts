/**
 * Every kernel variant Dure can build compiles, including combinations the numeric tests do not
 * run (e.g. qkv with bias, q/k norms, NEOX RoPE and an f16 cache at once). Compiled by Tint on
 * Dawn's null backend, which offers every feature (subgroups, shader-f16) and runs nothing: this
 * checks that the shaders are valid WGSL as Chrome's compiler reads it, not what they compute —
 * kernels.test.ts and the engine tests do that on SwiftShader.
 */
import { create, globals } from 'webgpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelLibrary, type KernelKey } from './kernel-library.ts';
import type { KernelFamily } from './sources.ts';
import { GgmlType } from '../gguf/types.ts';
import { GPU_WEIGHT_TYPES } from './weight-layout.ts';
import { ATTN_WG, prefillTile } from './attention-plan.ts';
import { GEMM_TILE, GEMM_WG, GEMV_WG, GEMV_X_CHUNK, gemvShape, UNKNOWN_SUBGROUPS } from './matmul-shape.ts';

type Defines = NonNullable<KernelKey['defines']>;

/** All combinations of boolean flags, merged into `base`. */
function flagCombos(base: Defines, flags: string[]): Defines[] {
  return Array.from({ length: 1 << flags.length }, (_, m) => ({
    ...base,
    ...Object.fromEntries(flags.map((f, i) => [f, (m >> i) % 2 === 1])),
  }));
}

interface Variant {
  family: KernelFamily;
  entryPoint: string;
  quant?: GgmlType;
  defines: Defines;
  /** Default 64 (256 for sampling). */
  workgroupSize?: number;
}

function variants(): Variant[] {
  const out: Variant[] = [];
  let quant: GgmlType | undefined;
  const add = (
    family: KernelFamily,
    entryPoint: string,
    list: Defines[],
    subgroups = [false, true],
    workgroupSize?: number,
  ) => {
    for (const sg of subgroups) {
      for (const d of list) {
        const v = {
          family,
          entryPoint,
          defines: { ...d, SUBGROUPS: sg },
          ...(workgroupSize ? { workgroupSize } : {}),
        };
        out.push(quant === undefined ? v : { ...v, quant });
      }
    }
  };
  const epilogues = flagCombos({}, ['BIAS', 'ACCUMULATE', 'SOFTCAP']);
  // Every type with a GPU row in the quant registry, so a new snippet is compiled in every kernel.
  for (const t of GPU_WEIGHT_TYPES) {
    quant = t;
    add('matmul', 'main', flagCombos({ TILE: 4, SG_ROWS: 16 }, ['BIAS', 'ACCUMULATE', 'SOFTCAP', 'F16']));
    add('glu', 'main', flagCombos({ TILE: 4, SG_ROWS: 16, K4: 64 }, ['GELU', 'F16']));
    add(
      'qkv',
      'main',
      flagCombos({ TILE: 4, K4: 64, HEAD_DIM: 64 }, ['BIAS', 'QK_NORM', 'NEOX', 'KV_F16', 'F16']).map(
        (d) => ({
          ...d,
          VECS: !!(d['BIAS'] || d['QK_NORM']),
        }),
      ),
    );
    // The decode GEMV as ops.ts sizes it, with and without subgroups, and the tiled prefill GEMM.
    for (const sg of [false, true]) {
      const shape = gemvShape(sg ? UNKNOWN_SUBGROUPS : undefined);
      const d = { ROWS: shape.rows, SLOTS: shape.slots, TEAM: shape.team ?? 0, XC: GEMV_X_CHUNK };
      add(
        'gemv',
        'main',
        epilogues.map((e) => ({ ...d, ...e })),
        [sg],
        GEMV_WG,
      );
    }
    add(
      'matmulTiled',
      'main',
      flagCombos({ BM: GEMM_TILE.rows, BN: GEMM_TILE.tokens }, ['BIAS', 'ACCUMULATE', 'SOFTCAP', 'F16']),
      [false],
      GEMM_WG,
    );
    add('embedding', 'main', [{}]);
    add('matmulBackward', 'main', [{ TILE: 8 }]);
  }
  quant = undefined;
  add('norm', 'main', flagCombos({}, ['ADD', 'LAST_TOKEN']));
  add('rope', 'main', flagCombos({}, ['NEOX', 'KV_F16']));
  // Split-KV decode (per head dim and query-head group), its combine step, tiled prefill.
  for (const HEAD_DIM of [64, 128, 256]) {
    for (const GROUP of [1, 7])
      add('attention', 'main', flagCombos({ SPLIT: true, HEAD_DIM, GROUP }, ['KV_F16']), undefined, ATTN_WG);
    add(
      'attention',
      'main',
      flagCombos({ TILED: true, HEAD_DIM, T: prefillTile(HEAD_DIM) }, ['KV_F16']),
      undefined,
      ATTN_WG,
    );
  }
  add('attention', 'main', [{ COMBINE: true }], undefined, ATTN_WG);
  add('activation', 'main', flagCombos({}, ['GELU']));
  add('lora', 'shrink', [{ SHRINK: true }]);
  add('lora', 'expand', [{}]);
  // Sampling is built without subgroups only (ops.ts).
  for (const e of ['argmax', 'penalize', 'topk', 'draw']) add('sampling', e, [{}], [false]);
  add('normBackward', 'main', flagCombos({}, ['ADD']));
  add('ropeBackward', 'main', flagCombos({}, ['NEOX']));
  add('activationBackward', 'main', flagCombos({}, ['GELU']));
  for (const e of ['scores', 'kv']) add('attentionBackward', e, [{}]);
  for (const e of ['cross_entropy', 'sum']) add('loss', e, [{}]);
  add('gemm', 'main', [{}]);
  add('optimizer', 'adamw', [{}]);
  return out;
}

describe('every kernel variant compiles (Tint, Dawn null backend with subgroups and shader-f16)', () => {
  let lib: KernelLibrary;
  // Keep the instance referenced while its device is used: Dawn crashes mid-dispatch if it is
  // garbage-collected while a device lives.
  let gpu: GPU;
  beforeAll(async () => {
    Object.assign(globalThis, globals);
    gpu = create(['backend=null']);
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('Dawn offers no null-backend adapter');
    const device = await adapter.requestDevice({
      requiredFeatures: (['subgroups', 'shader-f16'] as GPUFeatureName[]).filter((f) =>
        adapter.features.has(f),
      ),
    });
    expect(device.features.has('subgroups')).toBe(true);
    lib = new KernelLibrary(device);
  });

  it('all of them', async () => {
    const list = variants();
    const failures: string[] = [];
    for (const v of list) {
      const workgroupSize = v.workgroupSize ?? (v.family === 'sampling' ? 256 : 64);
      await lib.get({ ...v, workgroupSize }).catch((e: unknown) => {
        failures.push(String(e));
      });
    }
    expect(failures).toEqual([]);
    expect(list.length).toBeGreaterThan(600);
  });

  it('reports a broken variant (the check can fail)', async () => {
    await expect(
      lib.get({ family: 'matmul', entryPoint: 'main', workgroupSize: 64, quant: GgmlType.Q4_K }),
    ).rejects.toThrow(/TILE|SG_ROWS|unresolved/);
  });
});
