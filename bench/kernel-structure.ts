/**
 * Prints bench/README.md's kernel-structure table for Qwen2.5-1.5B at Q4_K (no GPU needed):
 * `node --import ./scripts/register-ts.mjs bench/kernel-structure.ts`.
 */
import {
  decodeStep,
  gemvDecode,
  qwen25_1_5b,
  registerTileDecode,
  registerTilePrefill,
  SUBGROUP_CLASSES,
  tiledGemmPrefill,
} from '../src/engine/gpu/kernel-structure.ts';
import { gluRowsPerGroup, MATMUL_WG, subgroupRowsFor } from '../src/engine/gpu/matmul-shape.ts';

const model = qwen25_1_5b();
const mb = (b: number) => (b / 1e6).toFixed(0);
const pct = (f: number) => `${Math.round(f * 100)} %`;
const kib = (b: number) => (b === 0 ? '0' : `${b / 1024} KiB`);

const rows = [
  '| GPU class (subgroup min–max, actual) | kernel | bytes requested / token (min) | ratio | workgroups / decode step | workgroup memory | idle lanes |',
  '| --- | --- | --- | --- | --- | --- | --- |',
];
for (const c of SUBGROUP_CLASSES) {
  for (const actual of c.actual) {
    const label = `${c.name} (${c.range.min}–${c.range.max}, ${actual})`;
    for (const [name, f] of [
      ['matmul.wgsl (old)', registerTileDecode(model, c.range, actual)],
      ['gemv.wgsl', gemvDecode(model, c.range, actual)],
    ] as const) {
      rows.push(
        `| ${label} | ${name} | ${mb(f.requestedBytes)} MB (${mb(f.minBytes)} MB) | ${f.ratio.toFixed(2)} | ${f.workgroups} | ${kib(f.sharedBytes)} | ${pct(f.idleLanes)} |`,
      );
    }
  }
}
const old = registerTilePrefill(model, { min: 32, max: 32 }, 64);
const gemm = tiledGemmPrefill(model, 64, false);
const gemm16 = tiledGemmPrefill(model, 64, true);
rows.push(
  '',
  '| 64-token prefill chunk | weight reads | workgroups | workgroup memory |',
  '| --- | --- | --- | --- |',
  `| matmul.wgsl register tile (NVIDIA) | ${old.weightReads}× | ${old.workgroups} | ${kib(old.sharedBytes)} |`,
  `| matmul-tiled.wgsl 64×64, f32 / f16 | ${gemm.weightReads}× | ${gemm.workgroups} | ${kib(gemm.sharedBytes)} / ${kib(gemm16.sharedBytes)} |`,
);
// The whole decode step as the engine records it on a GPU with subgroups, before and after
// 2026-12-04: fused q/k/v (a workgroup per head) and fused gate/up at one row per subgroup, then
// separate q/k/v GEMVs and fused gate/up at 16 rows per workgroup.
rows.push(
  '',
  '| decode step on a GPU (subgroup size) | bytes requested / token (min) | ratio | workgroups | fewest in one dispatch | most weight bytes one subgroup walks | idle lanes, gate/up |',
  '| --- | --- | --- | --- | --- | --- | --- |',
);
for (const c of SUBGROUP_CLASSES.filter((c) => c.name !== 'Apple')) {
  const actual = c.actual[0] as number;
  const plans = [
    ['before', { gluRows: subgroupRowsFor(MATMUL_WG, c.range.max), fusedQkv: true, headDim: 128 }],
    [
      'now',
      { gluRows: gluRowsPerGroup(subgroupRowsFor(MATMUL_WG, c.range.max)), fusedQkv: false, headDim: 128 },
    ],
  ] as const;
  for (const [when, plan] of plans) {
    const f = decodeStep(model, c.range, actual, plan);
    rows.push(
      `| ${c.name} (${actual}), ${when} | ${mb(f.requestedBytes)} MB (${mb(f.minBytes)} MB) | ${f.ratio.toFixed(2)} | ${f.workgroups} | ${f.minWorkgroups} | ${(f.maxBytesPerSubgroup / 1024).toFixed(1)} KiB | ${pct(f.idleLanes)} |`,
    );
  }
}
console.log(rows.join('\n'));
