/** GGUF reading: reader, metadata access, byte sources, quant types and typed errors (the writer is a tool: src/tools/gguf). */
export * from './errors.ts';
export * from './types.ts';
export { readGguf, readTensorBytes, GGUF_MAGIC, GGUF_DEFAULT_ALIGNMENT, GGML_MAX_DIMS } from './reader.ts';
export type { ReadGgufOptions } from './reader.ts';
export { MemorySource, BlobSource, checkRange } from './sources.ts';
export {
  architecture,
  findTensor,
  getBool,
  getFloat,
  getInteger,
  getNumberArray,
  getString,
  getStringArray,
  getTensor,
  getU32,
  hasKey,
  SUPPORTED_ARCHITECTURES,
} from './metadata.ts';
export type { Architecture } from './metadata.ts';
export * from './quant/index.ts';
