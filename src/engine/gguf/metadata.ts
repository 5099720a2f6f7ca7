/**
 * Typed access to GGUF metadata. Getters throw `GgufMetadataError` naming the key when it is
 * missing or holds another type, so model loading fails with a message a user can act on.
 */
import { GgufMetadataError, GgufUnknownArchError } from './errors.ts';
import { GgufValueType, type GgufFile, type GgufKv, type GgufTensorInfo } from './types.ts';
import { ARCHITECTURES, type Architecture } from '../model/arch/index.ts';

/** Architectures Dure's engine runs (llama.cpp's `general.architecture` names): the arch registry's. */
export const SUPPORTED_ARCHITECTURES = ARCHITECTURES;
export type { Architecture };

type Meta = Pick<GgufFile, 'metadata'>;

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

function entry(file: Meta, key: string): GgufKv {
  const e = file.metadata.get(key);
  if (!e) throw new GgufMetadataError(`metadata key ${key} is missing`);
  return e;
}

function wrongType(key: string, want: string, e: GgufKv): GgufMetadataError {
  return new GgufMetadataError(`metadata key ${key} should be ${want}, found ${GgufValueType[e.type]}`);
}

/** Whether `key` is present. */
export function hasKey(file: Meta, key: string): boolean {
  return file.metadata.has(key);
}

/**
 * A string value.
 * @throws {GgufMetadataError} when missing (and no fallback) or not a string.
 */
export function getString(file: Meta, key: string, fallback?: string): string {
  if (fallback !== undefined && !file.metadata.has(key)) return fallback;
  const e = entry(file, key);
  if (e.type !== GgufValueType.STRING || typeof e.value !== 'string') throw wrongType(key, 'a string', e);
  return e.value;
}

/**
 * Any integer value (u8..i64) as a number; 64-bit values must be safe integers.
 * @throws {GgufMetadataError} when missing (and no fallback), not an integer, or not representable.
 */
export function getInteger(file: Meta, key: string, fallback?: number): number {
  if (fallback !== undefined && !file.metadata.has(key)) return fallback;
  const e = entry(file, key);
  if (!INTEGER_TYPES.has(e.type)) throw wrongType(key, 'an integer', e);
  const v = typeof e.value === 'bigint' ? Number(e.value) : (e.value as number);
  if (!Number.isSafeInteger(v))
    throw new GgufMetadataError(`metadata key ${key} is too large: ${String(e.value)}`);
  return v;
}

/**
 * An integer value that fits in u32 (converters write u32; any integer type is accepted).
 * @throws {GgufMetadataError} when missing (and no fallback), not an integer, or out of range.
 */
export function getU32(file: Meta, key: string, fallback?: number): number {
  const v = getInteger(file, key, fallback);
  if (v < 0 || v > 0xffffffff) throw new GgufMetadataError(`metadata key ${key} = ${v} is not a u32`);
  return v;
}

/**
 * A floating-point value (f32 or f64; integers are accepted too).
 * @throws {GgufMetadataError} when missing (and no fallback) or not numeric.
 */
export function getFloat(file: Meta, key: string, fallback?: number): number {
  if (fallback !== undefined && !file.metadata.has(key)) return fallback;
  const e = entry(file, key);
  if (e.type === GgufValueType.FLOAT32 || e.type === GgufValueType.FLOAT64) return e.value as number;
  if (INTEGER_TYPES.has(e.type)) return getInteger(file, key);
  throw wrongType(key, 'a number', e);
}

/**
 * A boolean value.
 * @throws {GgufMetadataError} when missing (and no fallback) or not a bool.
 */
export function getBool(file: Meta, key: string, fallback?: boolean): boolean {
  if (fallback !== undefined && !file.metadata.has(key)) return fallback;
  const e = entry(file, key);
  if (e.type !== GgufValueType.BOOL) throw wrongType(key, 'a bool', e);
  return e.value as boolean;
}

/**
 * An array of strings.
 * @throws {GgufMetadataError} when missing or not a string array.
 */
export function getStringArray(file: Meta, key: string): string[] {
  const e = entry(file, key);
  if (e.type !== GgufValueType.ARRAY || e.arrayType !== GgufValueType.STRING) {
    throw wrongType(key, 'an array of strings', e);
  }
  return e.value as string[];
}

/**
 * A numeric array as numbers (any integer or float element type except 64-bit integers).
 * @throws {GgufMetadataError} when missing or not such an array.
 */
export function getNumberArray(
  file: Meta,
  key: string,
):
  Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array {
  const e = entry(file, key);
  const v = e.value;
  if (
    e.type === GgufValueType.ARRAY &&
    ArrayBuffer.isView(v) &&
    !(v instanceof BigInt64Array) &&
    !(v instanceof BigUint64Array)
  ) {
    return v as Float32Array;
  }
  throw wrongType(key, 'a numeric array', e);
}

/**
 * `general.architecture`, checked against the architectures Dure runs.
 * @throws {GgufMetadataError} when the key is missing or not a string.
 * @throws {GgufUnknownArchError} when the architecture is not supported.
 */
export function architecture(file: Meta): Architecture {
  const arch = getString(file, 'general.architecture');
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new GgufUnknownArchError(
      `architecture "${arch}" is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`,
    );
  }
  return arch as Architecture;
}

/** The tensor named `name`, or undefined. */
export function findTensor(file: Pick<GgufFile, 'tensors'>, name: string): GgufTensorInfo | undefined {
  return file.tensors.find((t) => t.name === name);
}

/**
 * The tensor named `name`.
 * @throws {GgufMetadataError} when the file has no such tensor.
 */
export function getTensor(file: Pick<GgufFile, 'tensors'>, name: string): GgufTensorInfo {
  const t = findTensor(file, name);
  if (!t) throw new GgufMetadataError(`tensor ${name} is missing`);
  return t;
}
