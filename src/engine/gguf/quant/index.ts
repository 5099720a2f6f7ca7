/** ggml quant types: block geometry, CPU reference dequantizers (the quantizers are tools: src/tools/gguf). */
export {
  QK_K,
  KNOWN_GGML_TYPES,
  ggmlTypeTraits,
  ggmlTypeName,
  ggmlByteLength,
  isKnownGgmlType,
  GPU_QUANT_TYPES,
} from './traits.ts';
export type { GgmlTypeTraits, GpuQuantLayout } from './traits.ts';
export { dequantize } from './dequantize.ts';
export { f32ToF16Bits, f16BitsToF32, f32ToBf16Bits, bf16BitsToF32, roundToF16 } from './half.ts';
