/**
 * The base models the server knows, for the dashboard's task wizard (issue #20): every `*.gguf` in
 * the models directory (DURE_MODELS_DIR, default `public/models`), with its SHA-256, architecture,
 * layer count and per-module LoRA shapes read from the file itself, and a display name from a
 * descriptor beside it (`demo.json` for `demo.gguf`) when there is one. Nothing is typed by hand:
 * a task created from the wizard names exactly the bytes the institutions will load.
 *
 * Only the GGUF header is read (metadata and tensor infos; the server needs no tensor data), with a
 * reader of its own because the server reaches client code only through src/protocol.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { GgufBadMagicError, GgufTruncatedError, GgufUnknownTypeError } from '../../src/protocol/errors.ts';
import { PEFT_MODULE_GGUF } from '../../src/protocol/adapter-codec.ts';
import type { BaseModelInfo, ModelShape } from '../../src/protocol/schemas.ts';

export type { BaseModelInfo };

/** GGUF tensor name (`blk.N.<name>.weight`) → the PEFT module name tasks use. */
const MODULE_OF: Record<string, string> = Object.fromEntries(
  Object.entries(PEFT_MODULE_GGUF).map(([peft, gguf]) => [gguf, peft]),
);

/** A header larger than this is not read (real vocabularies fit in a few MB). */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

interface GgufHeader {
  architecture: string;
  tensors: { name: string; dims: number[] }[];
}

/**
 * Parses a GGUF header (v2/v3): metadata is skipped except `general.architecture`; tensor infos kept.
 * @throws {GgufBadMagicError} not a GGUF file. @throws {GgufTruncatedError} the header ends early.
 * @throws {GgufUnknownTypeError} an unknown metadata value type.
 */
export function parseGgufHeader(buf: Uint8Array): GgufHeader {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > buf.byteLength) throw new GgufTruncatedError(`GGUF header ends at byte ${buf.byteLength}`);
  };
  const u32 = () => (need(4), (at += 4), view.getUint32(at - 4, true));
  const u64 = () => (need(8), (at += 8), Number(view.getBigUint64(at - 8, true)));
  const str = () => {
    const n = u64();
    need(n);
    at += n;
    return new TextDecoder().decode(buf.subarray(at - n, at));
  };
  const SIZES: Record<number, number> = {
    0: 1,
    1: 1,
    2: 2,
    3: 2,
    4: 4,
    5: 4,
    6: 4,
    7: 1,
    10: 8,
    11: 8,
    12: 8,
  };
  const advance = (n: number) => {
    need(n);
    at += n;
  };
  const skip = (type: number): void => {
    if (type === 8) void str();
    else if (type === 9) {
      const inner = u32();
      const n = u64();
      if (inner in SIZES) advance(n * SIZES[inner]!);
      else for (let i = 0; i < n; i++) skip(inner);
    } else if (type in SIZES) advance(SIZES[type]!);
    else throw new GgufUnknownTypeError(`GGUF metadata value type ${type}`);
  };
  need(4);
  if (new TextDecoder().decode(buf.subarray(0, 4)) !== 'GGUF') throw new GgufBadMagicError('not a GGUF file');
  at = 4;
  u32(); // version: 2 and 3 share this layout (64-bit counts)
  const nTensors = u64();
  const nKv = u64();
  let architecture = 'unknown';
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = u32();
    if (key === 'general.architecture' && type === 8) architecture = str();
    else skip(type);
  }
  const tensors: GgufHeader['tensors'] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nDims = u32();
    const dims = Array.from({ length: nDims }, u64);
    u32(); // ggml type
    u64(); // data offset
    tensors.push({ name, dims });
  }
  return { architecture, tensors };
}

/**
 * Layer count and LoRA module shapes from tensor infos. A GGUF weight's first dimension is its
 * input (ne0 = columns), the second its output, so `attn_q` [2048, 2048] is q_proj 2048 → 2048.
 */
export function shapeFromTensors(tensors: GgufHeader['tensors']): ModelShape {
  const layers = new Set<number>();
  const modules: ModelShape['modules'] = {};
  for (const t of tensors) {
    const m = /^blk\.(\d+)\.([a-z_]+)\.weight$/.exec(t.name);
    if (!m) continue;
    layers.add(Number(m[1]));
    const module = MODULE_OF[m[2]!];
    if (module && t.dims.length === 2 && !modules[module])
      modules[module] = { inFeatures: t.dims[0]!, outFeatures: t.dims[1]! };
  }
  return { numLayers: layers.size, modules };
}

async function readHeaderBytes(path: string, size: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const n = Math.min(size, MAX_HEADER_BYTES);
    const buf = new Uint8Array(n);
    await fh.read(buf, 0, n, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The models in a directory, each file read and hashed once per (size, mtime). */
export class ModelCatalog {
  private readonly cache = new Map<string, { key: string; info: BaseModelInfo }>();
  constructor(readonly dir: string) {}

  /** Every readable GGUF in the directory, by id; files that do not parse are left out. */
  async list(): Promise<BaseModelInfo[]> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const out: BaseModelInfo[] = [];
    for (const file of files.filter((f) => f.endsWith('.gguf')).sort()) {
      const info = await this.describe(join(this.dir, file)).catch(() => null);
      if (info) out.push(info);
    }
    return out;
  }

  private async describe(path: string): Promise<BaseModelInfo> {
    const st = await stat(path);
    const key = `${st.size}:${st.mtimeMs}`;
    const hit = this.cache.get(path);
    if (hit?.key === key) return hit.info;
    const header = parseGgufHeader(await readHeaderBytes(path, st.size));
    const descriptor = await readFile(path.replace(/\.gguf$/, '.json'), 'utf8')
      .then((t) => JSON.parse(t) as { quantization?: unknown; parameters?: unknown })
      .catch(() => null);
    const info: BaseModelInfo = {
      id: basename(path, '.gguf'),
      file: basename(path),
      bytes: st.size,
      sha256: await sha256File(path),
      architecture: header.architecture,
      description: descriptor
        ? [
            typeof descriptor.quantization === 'string' ? descriptor.quantization : null,
            typeof descriptor.parameters === 'number'
              ? `${descriptor.parameters.toLocaleString('en')} parameters`
              : null,
          ]
            .filter(Boolean)
            .join(', ') || null
        : null,
      shape: shapeFromTensors(header.tensors),
    };
    this.cache.set(path, { key, info });
    return info;
  }
}
