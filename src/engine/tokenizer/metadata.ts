/**
 * Typed access to the `tokenizer.ggml.*` keys of a GGUF metadata map. Every getter checks the
 * declared GGUF type, so a file with e.g. a float token list fails with a clear error.
 */
import { GgufValueType, type GgufKv } from '../gguf/types.ts';
import { TokenizerMetadataError } from './errors.ts';

export type Metadata = ReadonlyMap<string, GgufKv>;

const INTEGER_TYPES = new Set([
  GgufValueType.UINT8,
  GgufValueType.INT8,
  GgufValueType.UINT16,
  GgufValueType.INT16,
  GgufValueType.UINT32,
  GgufValueType.INT32,
  GgufValueType.UINT64,
  GgufValueType.INT64,
]);

/** @throws {TokenizerMetadataError} when the key exists but is not a string. */
export function optString(md: Metadata, key: string): string | undefined {
  const kv = md.get(key);
  if (kv === undefined) return undefined;
  if (kv.type !== GgufValueType.STRING || typeof kv.value !== 'string') {
    throw new TokenizerMetadataError(`${key} must be a string`);
  }
  return kv.value;
}

/** @throws {TokenizerMetadataError} when the key exists but is not a boolean. */
export function optBool(md: Metadata, key: string): boolean | undefined {
  const kv = md.get(key);
  if (kv === undefined) return undefined;
  if (kv.type !== GgufValueType.BOOL || typeof kv.value !== 'boolean') {
    throw new TokenizerMetadataError(`${key} must be a boolean`);
  }
  return kv.value;
}

/** @throws {TokenizerMetadataError} when the key exists but is not a non-negative safe integer. */
export function optUint(md: Metadata, key: string): number | undefined {
  const kv = md.get(key);
  if (kv === undefined) return undefined;
  if (!INTEGER_TYPES.has(kv.type)) throw new TokenizerMetadataError(`${key} must be an integer`);
  const v = typeof kv.value === 'bigint' ? Number(kv.value) : kv.value;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new TokenizerMetadataError(`${key} must be a non-negative integer`);
  }
  return v;
}

/** @throws {TokenizerMetadataError} when the key exists but is not an array of strings. */
export function optStringArray(md: Metadata, key: string): readonly string[] | undefined {
  const kv = md.get(key);
  if (kv === undefined) return undefined;
  if (kv.type !== GgufValueType.ARRAY || kv.arrayType !== GgufValueType.STRING || !Array.isArray(kv.value)) {
    throw new TokenizerMetadataError(`${key} must be an array of strings`);
  }
  const arr = kv.value as unknown[];
  if (!arr.every((s) => typeof s === 'string')) {
    throw new TokenizerMetadataError(`${key} must be an array of strings`);
  }
  return arr as string[];
}

/**
 * Reads a numeric array (any integer or float element type) as plain numbers.
 * @throws {TokenizerMetadataError} when the key exists but is not a numeric array.
 */
export function optNumberArray(md: Metadata, key: string): ArrayLike<number> | undefined {
  const kv = md.get(key);
  if (kv === undefined) return undefined;
  const v = kv.value;
  if (kv.type !== GgufValueType.ARRAY) throw new TokenizerMetadataError(`${key} must be an array`);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    if (v instanceof BigInt64Array || v instanceof BigUint64Array) return Array.from(v, (x) => Number(x));
    return v as unknown as ArrayLike<number>;
  }
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as unknown as number[];
  throw new TokenizerMetadataError(`${key} must be a numeric array`);
}
