/**
 * GGUF data model shared by the reader, the writer, the tokenizer and the model loader.
 * Tensor dimensions follow ggml: `dims[0]` (ne0) is the innermost, contiguous dimension,
 * so a weight of a linear layer `y = W x` with `W: [out, in]` has `dims = [in, out]`.
 */

/** ggml tensor types, numbered as in ggml.h (`enum ggml_type`). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ4_NL = 20,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
}

/** GGUF metadata value types (`enum gguf_type`). */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/**
 * A metadata value as the reader exposes it. 64-bit integers are `bigint`; numeric arrays are
 * typed arrays (so a 150k-entry `tokenizer.ggml.token_type` is one allocation); string arrays
 * are `string[]`; nested arrays are `GgufArray[]`.
 */
export type GgufScalar = number | bigint | boolean | string;
export type GgufArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | boolean[]
  | string[]
  | GgufArray[];
export type GgufValue = GgufScalar | GgufArray;

/** A metadata entry keeps its declared type so a writer can round-trip it exactly. */
export interface GgufKv {
  type: GgufValueType;
  /** For arrays: the element type. */
  arrayType?: GgufValueType;
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] innermost. */
  dims: number[];
  type: GgmlType;
  /** Absolute byte offset in the file (data section start + relative offset). */
  offset: number;
  byteLength: number;
  /** Product of dims. */
  elements: number;
}

/** Random-access bytes: a file on disk (Node), a Blob/File/OPFS file (browser), or memory. */
export interface ByteSource {
  readonly size: number;
  /**
   * Reads exactly `length` bytes at `offset`.
   * Implementations throw a `DureError` (code `GGUF_TRUNCATED`) when the range is past the end.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: reads `target.byteLength` bytes at `offset` into `target`, so a loader can reuse one
   * staging buffer instead of allocating a fresh array per read. Same errors as `read`.
   */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
  close?(): Promise<void>;
}

export interface GgufFile {
  version: 2 | 3;
  alignment: number;
  metadata: ReadonlyMap<string, GgufKv>;
  tensors: readonly GgufTensorInfo[];
  /** Start of the tensor data section (absolute). */
  dataOffset: number;
  source: ByteSource;
}
