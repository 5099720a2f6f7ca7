/**
 * Optional typed access to the `tokenizer.ggml.*` keys: `undefined` when a key is absent, the
 * GGUF metadata getters' typed error (`GgufMetadataError`) when it holds the wrong type.
 */
import { getBool, getNumberArray, getString, getStringArray, getU32, hasKey } from '../gguf/metadata.ts';
import type { GgufKv } from '../gguf/types.ts';

export type Metadata = ReadonlyMap<string, GgufKv>;

const opt =
  <T>(get: (file: { metadata: Metadata }, key: string) => T) =>
  (metadata: Metadata, key: string): T | undefined =>
    hasKey({ metadata }, key) ? get({ metadata }, key) : undefined;

/** @throws {GgufMetadataError} when the key exists but is not a string. */
export const optString = opt(getString);
/** @throws {GgufMetadataError} when the key exists but is not a boolean. */
export const optBool = opt(getBool);
/** @throws {GgufMetadataError} when the key exists but is not an integer in u32 range. */
export const optUint = opt(getU32);
/** @throws {GgufMetadataError} when the key exists but is not an array of strings. */
export const optStringArray = opt(getStringArray);
/** @throws {GgufMetadataError} when the key exists but is not a numeric array. */
export const optNumberArray = opt(getNumberArray);
