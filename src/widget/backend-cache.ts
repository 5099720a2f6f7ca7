/**
 * The measured backend choice, kept in localStorage so a device measures once per model size
 * (issue 21 item 4). Keyed by what makes the answer differ: the adapter (vendor, architecture,
 * device, description), whether it is software, the browser (user agent: a browser or driver
 * update changes it) and the number of cores; and the model's size class (a power of two in MiB —
 * decode speed is bytes per token, so models of about the same size race the same way).
 * A version in the stored record retires every entry when the engines change enough to matter,
 * and entries older than 30 days are measured again.
 */
import type { Backend, Measured } from './backend.ts';

/** Bump when either engine's speed changes enough to invalidate earlier measurements. */
export const CHOICE_CACHE_VERSION = 1;
export const CHOICE_STORAGE_KEY = 'dure.backend-choice';
export const CHOICE_MAX_AGE_MS = 30 * 24 * 3600 * 1000;
/** Entries kept (the oldest go first): a device sees a handful of models at most. */
export const CHOICE_MAX_ENTRIES = 32;

export interface DeviceSignature {
  adapter: string;
  software: boolean;
  userAgent: string;
  cores: number;
}

export interface CachedChoice {
  backend: Backend;
  measured: Measured;
  /** When it was measured (ms since the epoch). */
  at: number;
}

interface Stored {
  v: number;
  entries: Record<string, CachedChoice>;
}

/** Size classes are powers of two in MiB: 3 MiB and 4 MiB share "4MiB", 5 MiB is "8MiB". */
export function sizeClass(bytes: number): string {
  const mib = Math.max(1, bytes / 2 ** 20);
  return `${2 ** Math.ceil(Math.log2(mib) - 1e-9)}MiB`;
}

export function choiceKey(device: DeviceSignature, modelBytes: number): string {
  return JSON.stringify([
    device.adapter,
    device.software,
    device.userAgent,
    device.cores,
    sizeClass(modelBytes),
  ]);
}

type Reader = Pick<Storage, 'getItem'>;
type Writer = Pick<Storage, 'getItem' | 'setItem'>;

function load(storage: Reader): Stored {
  try {
    const raw = storage.getItem(CHOICE_STORAGE_KEY);
    const parsed = raw ? (JSON.parse(raw) as Partial<Stored>) : null;
    if (parsed && parsed.v === CHOICE_CACHE_VERSION && parsed.entries && typeof parsed.entries === 'object')
      return { v: CHOICE_CACHE_VERSION, entries: parsed.entries };
  } catch {
    // Unreadable or blocked storage is the same as an empty one: measure again.
  }
  return { v: CHOICE_CACHE_VERSION, entries: {} };
}

function isChoice(c: unknown): c is CachedChoice {
  const x = c as Partial<CachedChoice> | null;
  return (
    !!x &&
    (x.backend === 'webgpu' || x.backend === 'wasm-cpu') &&
    typeof x.at === 'number' &&
    typeof x.measured === 'object' &&
    x.measured !== null
  );
}

/** The choice measured earlier for this device and model size, if still valid. */
export function readChoice(
  storage: Reader | null,
  device: DeviceSignature,
  modelBytes: number,
  now = Date.now(),
): CachedChoice | null {
  if (!storage) return null;
  const c = load(storage).entries[choiceKey(device, modelBytes)];
  if (!isChoice(c) || now - c.at > CHOICE_MAX_AGE_MS || c.at > now) return null;
  return c;
}

/** Keeps `choice`; a storage that refuses (private mode, quota) only means measuring again next time. */
export function writeChoice(
  storage: Writer | null,
  device: DeviceSignature,
  modelBytes: number,
  choice: CachedChoice,
): void {
  if (!storage) return;
  const s = load(storage);
  s.entries[choiceKey(device, modelBytes)] = choice;
  const keys = Object.keys(s.entries).sort((a, b) => (s.entries[a]?.at ?? 0) - (s.entries[b]?.at ?? 0));
  for (const k of keys.slice(0, Math.max(0, keys.length - CHOICE_MAX_ENTRIES))) delete s.entries[k];
  try {
    storage.setItem(CHOICE_STORAGE_KEY, JSON.stringify(s));
  } catch {
    // See above.
  }
}

/** The page's localStorage, or null where it is unavailable or blocked (sandboxed frames). */
export function pageStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}
