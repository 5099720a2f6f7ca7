/**
 * Shared command-line plumbing for `dure` commands: argument errors, the `error <CODE>: message`
 * convention on stderr, bounded text-file input, id lists and opening a model's tokenizer.
 */
import { readFile, stat } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DureError, errorText } from '../protocol/errors.ts';
import { readGguf } from '../engine/gguf/reader.ts';
import type { GgufKv } from '../engine/gguf/types.ts';
import { FileOpenError, FileSource } from '../node/file-source.ts';
import { CliArgsError, CliInputError, CliCommandUnavailableError } from '../protocol/errors.ts';
export { CliArgsError, CliInputError, CliCommandUnavailableError };

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `--name value` → `--name=value` for every string option whose value is not itself one of the
 * command's options. node:util's parseArgs refuses a separate value that starts with '-' as
 * "ambiguous", and base64url keys (`--server-key`, one in 64 starts with '-'), negative numbers
 * and prompts do.
 */
export function joinStringValues(args: readonly string[], options: Options): string[] {
  const byName = new Map<string, boolean>();
  for (const [name, o] of Object.entries(options)) {
    byName.set(`--${name}`, o.type === 'string');
    if (o.short) byName.set(`-${o.short}`, o.type === 'string');
  }
  const isOption = (a: string) => byName.has(a.split('=')[0]!);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (byName.get(a) && next !== undefined && next.startsWith('-') && !isOption(next)) {
      out.push(a.startsWith('--') ? `${a}=${next}` : a + next);
      i++;
    } else out.push(a);
  }
  return out;
}

/** node:util parseArgs, with string option values that start with '-' accepted (joinStringValues). */
export function parseCliArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const args = joinStringValues(config.args ?? process.argv.slice(2), config.options ?? {});
  return parseArgs({ ...config, args } as T);
}

/** Text files larger than this are refused before reading (a tokenizer input, not a dataset). */
export const MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024;
/** Longest `--ids` list accepted. */
export const MAX_IDS = 16 * 1024 * 1024;

/**
 * Prints `error <CODE>: message` on stderr (the code for scripts, the detail in English), then the
 * catalogue's plain Korean sentence for that code on its own line, and returns the exit code (2
 * for usage errors). Errors that are not `DureError`s are reported as INTERNAL.
 */
export function reportError(e: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  const code = e instanceof DureError ? e.code : 'INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  stderr.write(`error ${code}: ${message}\n  ${errorText(code, 'ko')}\n`);
  return code === 'CLI_ARGS' ? 2 : 1;
}

/**
 * Reads a UTF-8 text file exactly (a trailing newline is kept, as llama.cpp's tokenize example
 * does with `--file`).
 * @throws {FileOpenError} when the file cannot be read.
 * @throws {CliInputError} when it is larger than MAX_TEXT_FILE_BYTES or not valid UTF-8.
 */
export async function readTextFile(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new FileOpenError(`${path} is not a regular file`);
    if (st.size > MAX_TEXT_FILE_BYTES) {
      throw new CliInputError(`${path} has ${st.size} bytes; the limit is ${MAX_TEXT_FILE_BYTES}`);
    }
    bytes = await readFile(path);
  } catch (e) {
    if (e instanceof DureError) throw e;
    const code = (e as { code?: string }).code ?? 'unknown error';
    throw new FileOpenError(`cannot read ${path}: ${code}`, { cause: e });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new CliInputError(`${path} is not valid UTF-8`);
  }
}

/**
 * Parses a token id list: `1,2,3`, `1 2 3` or a JSON array `[1,2,3]`.
 * @throws {CliArgsError} for anything else (negative, fractional, non-numeric, too many).
 */
export function parseIdList(s: string): number[] {
  const body = s.trim().replace(/^\[/, '').replace(/\]$/, '').trim();
  if (body === '') return [];
  const parts = body.split(/[\s,]+/).filter((p) => p.length > 0);
  if (parts.length > MAX_IDS) throw new CliArgsError(`more than ${MAX_IDS} ids`);
  return parts.map((p) => {
    if (!/^\d{1,10}$/.test(p)) throw new CliArgsError(`--ids: ${JSON.stringify(p)} is not a token id`);
    return Number(p);
  });
}

/**
 * Reads the metadata of a GGUF file on disk (tensor data is not read).
 * @throws {FileOpenError} and the GGUF reader's typed errors.
 */
export async function readModelMetadata(path: string): Promise<ReadonlyMap<string, GgufKv>> {
  const source = await FileSource.open(path);
  try {
    return (await readGguf(source)).metadata;
  } finally {
    await source.close?.();
  }
}
