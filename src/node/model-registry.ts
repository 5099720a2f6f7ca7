/**
 * The models an operator registered for the demo portal and `npm start` (issue 16 item 5): each
 * model is `<dir>/<id>.gguf` plus a descriptor `<dir>/<id>.json` (the shape of demo.json's first
 * fields: file, sha256, bytes, architecture, plus name and licence for the widget), and
 * `<dir>/registry.json` names them and the default one. The directory is `public/models/`, which
 * Vite copies into the served site, so a registered model is served at `/models/<id>.gguf`.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { readGguf } from '../engine/gguf/reader.ts';
import { checkModel, type ModelCheck, type ModelLicense } from '../model-manager/model-check.ts';
import { CliArgsError, FileOpenError } from '../protocol/errors.ts';
import { FileSource } from './file-source.ts';

/** What the portal needs to show and verify a registered model. */
export interface ModelDescriptor {
  id: string;
  file: string;
  sha256: string;
  bytes: number;
  name: string;
  architecture: string | null;
  license: ModelLicense;
  parameters: number;
  tensorTypes: Record<string, number>;
  contextLength: number | null;
  addedAt: string;
}

export interface ModelRegistry {
  /** The model the demo portal loads; `demo` (Dure's own) when none was added. */
  default: string;
  models: { id: string; file: string; name: string; license: string | null; sha256: string }[];
}

/** Ids the repository itself uses in public/models/. */
const RESERVED_IDS = new Set(['demo', 'registry']);

/**
 * SHA-256 of a file, read as a stream in 1 MiB chunks (a 2 GB model is never held in memory).
 * @throws {FileOpenError} when the file cannot be read.
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
      hash.update(chunk as Buffer);
  } catch (e) {
    throw new FileOpenError(`cannot read ${path}: ${(e as { code?: string }).code ?? String(e)}`, {
      cause: e,
    });
  }
  return hash.digest('hex');
}

/** A URL- and file-name-safe id from a name: `Qwen2.5-0.5B Instruct.gguf` → `qwen2.5-0.5b-instruct`. */
export function modelId(name: string): string {
  return name
    .replace(/\.gguf$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 80);
}

/**
 * Reads and checks a GGUF file on disk (header only; the reader's typed errors for corrupt or
 * truncated files propagate).
 * @throws {FileOpenError} and the GGUF reader's errors (GGUF_TRUNCATED, GGUF_BAD_MAGIC…).
 */
export async function checkModelFile(path: string, budgetBytes?: number): Promise<ModelCheck> {
  const source = await FileSource.open(path);
  try {
    return checkModel(await readGguf(source), budgetBytes);
  } finally {
    await source.close();
  }
}

async function readRegistry(dir: string): Promise<ModelRegistry> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, 'registry.json'), 'utf8')) as ModelRegistry;
    if (typeof parsed.default === 'string' && Array.isArray(parsed.models)) return parsed;
  } catch {
    // Missing or unreadable: start a new one (the demo model needs no entry).
  }
  return { default: 'demo', models: [] };
}

/** Writes through a temporary file and a rename, so a reader never sees half a JSON file. */
async function writeJson(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, path);
}

/**
 * Copies `src` to `dest` (a copy-on-write clone where the file system offers one). Not a hard link:
 * `curl -o` over the downloaded file rewrites it in place, which would change the registered copy
 * under its recorded SHA-256.
 */
async function placeFile(src: string, dest: string): Promise<void> {
  const [from, to] = await Promise.all([realpath(src), realpath(dest).catch(() => null)]);
  if (from === to) return;
  const tmp = `${dest}.${process.pid}.tmp`;
  await copyFile(src, tmp, constants.COPYFILE_FICLONE);
  await rename(tmp, dest);
}

export interface RegisterOptions {
  /** Where models are served from (public/models/). */
  dir: string;
  /** Display name; defaults to the file's `general.name`, else its file name. */
  name?: string;
  /** Defaults to an id made from the name. */
  id?: string;
  /** Make it the portal's default model (default true). */
  makeDefault?: boolean;
  /** The GPU memory budget the fit estimate is checked against. */
  budgetBytes?: number;
}

export interface RegisterResult {
  check: ModelCheck;
  descriptor: ModelDescriptor;
  registry: ModelRegistry;
}

/**
 * Checks a local GGUF file and, only when Dure's WebGPU engine runs it, registers it: the file is
 * copied to `<dir>/<id>.gguf`, its descriptor written and the registry updated. Nothing
 * is written when the check fails.
 * @throws {CliArgsError} for a reserved or empty id.
 * @throws the check's refusal (UnsupportedArchitectureError, UnsupportedWeightTypeError,
 *   ModelMetadataError, ModelTensorError) and the GGUF reader's errors for corrupt files.
 */
export async function registerModel(path: string, opts: RegisterOptions): Promise<RegisterResult> {
  const st = await stat(path).catch((e: unknown) => {
    throw new FileOpenError(`cannot open ${path}: ${(e as { code?: string }).code ?? String(e)}`, {
      cause: e,
    });
  });
  if (!st.isFile()) throw new FileOpenError(`${path} is not a regular file`);
  const check = await checkModelFile(path, opts.budgetBytes);
  if (check.refusal) throw check.refusal;
  const name = opts.name ?? check.name ?? basename(path).replace(/\.gguf$/i, '');
  const id = modelId(opts.id ?? name);
  if (!id) throw new CliArgsError(`cannot make a model id from ${JSON.stringify(name)}; pass --id`);
  if (RESERVED_IDS.has(id)) throw new CliArgsError(`the id "${id}" is reserved; pass another --id`);
  const sha256 = await sha256File(path);
  await mkdir(opts.dir, { recursive: true });
  const file = `${id}.gguf`;
  await placeFile(path, join(opts.dir, file));
  const descriptor: ModelDescriptor = {
    id,
    file,
    sha256,
    bytes: st.size,
    name,
    architecture: check.architecture,
    license: check.license,
    parameters: check.parameters,
    tensorTypes: check.tensorTypes,
    contextLength: check.contextLength,
    addedAt: new Date().toISOString(),
  };
  await writeJson(join(opts.dir, `${id}.json`), descriptor);
  const registry = await readRegistry(opts.dir);
  const entry = { id, file, name, license: check.license.name ?? check.license.id, sha256 };
  registry.models = [...registry.models.filter((m) => m.id !== id), entry];
  if (opts.makeDefault ?? true) registry.default = id;
  await writeJson(join(opts.dir, 'registry.json'), registry);
  return { check, descriptor, registry };
}

/**
 * Makes a registered model (or Dure's own `demo`) the one the demo portal loads.
 * @throws {CliArgsError} when no model with that id is registered.
 */
export async function setDefaultModel(dir: string, id: string): Promise<ModelRegistry> {
  const registry = await readRegistry(dir);
  if (id !== 'demo' && !registry.models.some((m) => m.id === id)) {
    const known = ['demo', ...registry.models.map((m) => m.id)].join(', ');
    throw new CliArgsError(`no registered model "${id}" (registered: ${known})`);
  }
  registry.default = id;
  await mkdir(dir, { recursive: true });
  await writeJson(join(dir, 'registry.json'), registry);
  return registry;
}
