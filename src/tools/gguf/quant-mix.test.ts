import { describe, expect, it } from 'vitest';
import { GgmlType } from '../../engine/gguf/types.ts';
import { fallbackType, q4KMType, useMoreBits } from './quant-mix.ts';

const T = (name: string, nx: number, nDims = 2) => ({ name, nx, nDims });

describe("llama.cpp's Q4_K_M mix", () => {
  it('use_more_bits picks the first and last eighth and every third layer between', () => {
    const picked = Array.from({ length: 24 }, (_, i) => i).filter((i) => useMoreBits(i, 24));
    expect(picked).toEqual([0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23]);
  });

  it('falls back from K-quants on rows that are not whole super-blocks', () => {
    expect(fallbackType(GgmlType.Q4_K, 896)).toBe(GgmlType.Q5_0);
    expect(fallbackType(GgmlType.Q5_K, 896)).toBe(GgmlType.Q5_1);
    expect(fallbackType(GgmlType.Q6_K, 896)).toBe(GgmlType.Q8_0);
    expect(fallbackType(GgmlType.Q3_K, 1152)).toBe(GgmlType.Q4_0);
    expect(fallbackType(GgmlType.Q6_K, 48)).toBe(GgmlType.F16);
    expect(fallbackType(GgmlType.Q4_K, 4864)).toBe(GgmlType.Q4_K);
  });

  it('gives Qwen2.5-0.5B (896 wide, FFN 4864, 24 layers, tied) the types of the real file', () => {
    const q = (name: string, nx = 896) => GgmlType[q4KMType(T(name, nx), 24, true)];
    expect(q('token_embd.weight')).toBe('Q8_0');
    expect(q('blk.0.attn_q.weight')).toBe('Q5_0');
    expect(q('blk.0.attn_v.weight')).toBe('Q8_0');
    expect(q('blk.3.attn_v.weight')).toBe('Q5_0');
    expect(q('blk.5.attn_output.weight')).toBe('Q5_0');
    expect(q('blk.5.ffn_up.weight')).toBe('Q5_0');
    expect(q('blk.0.ffn_down.weight', 4864)).toBe('Q6_K');
    expect(q('blk.3.ffn_down.weight', 4864)).toBe('Q4_K');
    expect(q('blk.0.attn_norm.weight')).toBe('F32');
    expect(GgmlType[q4KMType(T('blk.0.attn_q.bias', 896, 1), 24, true)]).toBe('F32');
  });

  it('keeps K-quants on 256-multiple widths (output Q6_K, untied embedding Q4_K)', () => {
    expect(q4KMType(T('output.weight', 4096), 32, false)).toBe(GgmlType.Q6_K);
    expect(q4KMType(T('token_embd.weight', 4096), 32, false)).toBe(GgmlType.Q4_K);
    expect(q4KMType(T('blk.9.attn_k.weight', 4096), 32, false)).toBe(GgmlType.Q4_K);
  });
});
