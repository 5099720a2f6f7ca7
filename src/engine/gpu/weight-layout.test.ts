/**
 * The quant registry's GPU rows are consistent: each names a snippet that exists, every snippet is
 * used, the upload layout gives word-aligned payloads, and the types marked for 16-byte loads have
 * 16-byte-aligned blocks. Repacking moves exactly the declared bytes.
 */
import { describe, expect, it } from 'vitest';
import { ggmlTypeTraits } from '../gguf/quant/traits.ts';
import { GgmlType } from '../gguf/types.ts';
import { quantSnippets } from './sources.ts';
import { GPU_WEIGHT_TYPES, gpuQuantRow, toGpuLayout, UnsupportedWeightTypeError } from './weight-layout.ts';

describe('quant registry GPU rows', () => {
  it('name existing snippets, each used once, with word-aligned payloads', () => {
    const used = GPU_WEIGHT_TYPES.map((t) => gpuQuantRow(t).gpu.snippet);
    expect(new Set(used).size).toBe(used.length);
    expect([...used].sort()).toEqual(Object.keys(quantSnippets).sort());
    for (const t of GPU_WEIGHT_TYPES) {
      const row = gpuQuantRow(t);
      const src = quantSnippets[row.gpu.snippet] ?? '';
      for (const fn of ['decode_unit', 'unit_vec4', 'dot_unit', 'dot_unit4'])
        expect(src).toContain(`fn ${fn}(`);
      const kept = row.bytesPerBlock - (row.gpu.aux?.bytes ?? 0);
      // Elementwise types (block 1) are word aligned per 32-element unit instead.
      expect(row.blockSize === 1 ? (32 * row.bytesPerBlock) % 4 : kept % 4).toBe(0);
    }
  });

  it('mark vec16 exactly the types whose payload keeps every block 16-byte aligned', () => {
    // The GEMV's 16-byte loads (unit_vec16) need every block to start 16-byte aligned; a type
    // whose blocks do can be read that way, so the flag should not be missing either.
    for (const t of GPU_WEIGHT_TYPES) {
      const row = gpuQuantRow(t);
      const kept =
        row.blockSize === 1 ? 32 * row.bytesPerBlock : row.bytesPerBlock - (row.gpu.aux?.bytes ?? 0);
      expect({ type: row.name, vec16: !!row.gpu.vec16 }).toEqual({ type: row.name, vec16: kept % 16 === 0 });
      if (row.gpu.vec16) expect(quantSnippets[row.gpu.snippet]).toContain('fn unit_vec16(');
    }
  });

  it('repacking moves the declared bytes of every block to the aux region', () => {
    const row = gpuQuantRow(GgmlType.Q6_K);
    const rows = 2;
    const k = 512;
    const n = (rows * k) / row.blockSize;
    const bytes = Uint8Array.from({ length: n * row.bytesPerBlock }, (_, i) => (i * 7 + 3) & 0xff);
    const { data, aux } = toGpuLayout(GgmlType.Q6_K, bytes, rows, k);
    for (let b = 0; b < n; b++) {
      const blk = bytes.subarray(b * 210, (b + 1) * 210);
      expect([...data.subarray(b * 208, (b + 1) * 208)]).toEqual([...blk.subarray(0, 208)]);
      expect([...data.subarray(aux * 4 + 2 * b, aux * 4 + 2 * b + 2)]).toEqual([...blk.subarray(208)]);
    }
  });

  it('refuses a type without a GPU row, naming it', () => {
    expect(ggmlTypeTraits(GgmlType.IQ2_XXS).gpu).toBeUndefined();
    expect(() => gpuQuantRow(GgmlType.IQ2_XXS)).toThrow(UnsupportedWeightTypeError);
    expect(() => gpuQuantRow(GgmlType.IQ2_XXS)).toThrow(/IQ2_XXS/);
  });
});
