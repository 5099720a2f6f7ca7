/**
 * The one LoRA adapter codec every party shares (engine, trainer, round client, widget feed and
 * server): the `LoraTensors` type, PEFT tensor names (parse and format), PEFT
 * `adapter_config.json` and the `ADAPTER_META` safetensors metadata the server writes, decoding an
 * adapter from safetensors bytes, encoding one, and the check of a safetensors header's tensor
 * list against a LoRA config (PEFT names of targeted modules, [r, in] / [out, r]) or against an
 * exact list of expected tensors (the server's streaming validator runs it on the header it reads
 * from disk).
 *
 * Every failure is an `AdapterShapeError` (a malformed file is one too, with the
 * `SafetensorsError` as its cause). `adapterProblem(err)` gives the structured reason behind it,
 * so a caller can keep its own error class, messages and codes.
 */
import { AdapterShapeError, SafetensorsError } from './errors.ts';
import type { TensorSpec } from './lora.ts';
import {
  DEFAULT_SAFETENSORS_LIMITS,
  decodeTensorData,
  parseHeader,
  readHeaderLength,
  writeSafetensors,
  type NamedTensor,
  type SafetensorsDtype,
  type SafetensorsHeader,
  type SafetensorsLimits,
} from './safetensors.ts';

// ── the adapter ──────────────────────────────────────────────────────────────────────────────

/** An adapter's LoRA hyper-parameters (PEFT's `r`, `lora_alpha`, `target_modules`). */
export interface AdapterConfig {
  rank: number;
  alpha: number;
  targetModules: string[];
}

/** A LoRA adapter in PEFT naming (see `peftTensorName`), float32. */
export interface LoraTensors {
  rank: number;
  alpha: number;
  targetModules: string[];
  /** PEFT tensor name → row-major data (lora_A: [rank, in], lora_B: [out, rank]). */
  tensors: Map<string, Float32Array>;
}

/**
 * Keys the server puts in every global adapter's safetensors `__metadata__`, so an adapter file
 * describes itself (a widget or client needs alpha to scale B·A; rank and targets follow from the
 * tensors but are stated too). Covered by the file's SHA-256, unlike response headers.
 */
export const ADAPTER_META = {
  task: 'dure.task',
  version: 'dure.version',
  round: 'dure.round',
  rank: 'dure.lora_rank',
  alpha: 'dure.lora_alpha',
  /** JSON array of module names, e.g. `["q_proj","v_proj"]`. */
  targetModules: 'dure.lora_target_modules',
} as const;

// ── problems ─────────────────────────────────────────────────────────────────────────────────

/** Why the codec refused an adapter (read it from an error with `adapterProblem`). */
export type AdapterProblem =
  /** Not a well-formed safetensors file (the error's cause is the `SafetensorsError`). */
  | { kind: 'safetensors'; message: string }
  /** The LoRA config (adapter_config.json or ADAPTER_META) is missing, malformed or unsupported. */
  | { kind: 'config'; message: string }
  /** A tensor name is not a PEFT LoRA name of a known module. */
  | { kind: 'name'; tensor: string }
  /** A PEFT LoRA tensor of a module the config does not target. */
  | { kind: 'untargeted'; tensor: string; module: string }
  /** A tensor that is not 2-D with the config's rank in the right place. */
  | { kind: 'rank'; tensor: string; shape: number[]; which: 'A' | 'B'; rank: number }
  /** The adapter has no tensors. */
  | { kind: 'empty' }
  /** Against expected specs: the wrong number of tensors. */
  | { kind: 'count'; expected: number; got: number }
  /** Against expected specs: an expected tensor is absent. */
  | { kind: 'missing'; tensor: string }
  /** Against expected specs: a tensor of another dtype. */
  | { kind: 'dtype'; tensor: string; dtype: string; expected: string }
  /** Against expected specs: a tensor of another shape. */
  | { kind: 'shape'; tensor: string; shape: number[]; expected: number[] };

/** The default message of a problem (the codec error's message). */
export function describeAdapterProblem(p: AdapterProblem): string {
  switch (p.kind) {
    case 'safetensors':
    case 'config':
      return p.message;
    case 'name':
      return `${JSON.stringify(p.tensor)} is not a PEFT LoRA tensor name`;
    case 'untargeted':
      return `${p.tensor} targets ${p.module}, which is not in target_modules`;
    case 'rank':
      return `${p.tensor} has shape [${p.shape.join(', ')}]; lora_${p.which} must be ${p.which === 'A' ? '[r, in]' : '[out, r]'} with r = ${p.rank}`;
    case 'empty':
      return 'the adapter holds no tensors';
    case 'count':
      return `expected ${p.expected} tensors, got ${p.got}`;
    case 'missing':
      return `missing tensor ${p.tensor}`;
    case 'dtype':
      return `tensor ${p.tensor} is ${p.dtype}, expected ${p.expected}`;
    case 'shape':
      return `tensor ${p.tensor} has shape [${p.shape}], expected [${p.expected}]`;
  }
}

const problems = new WeakMap<Error, AdapterProblem>();

function fail(problem: AdapterProblem, options?: { cause?: unknown }): never {
  const err = new AdapterShapeError(describeAdapterProblem(problem), options);
  problems.set(err, problem);
  throw err;
}

/** The problem behind an error this codec threw, or undefined for any other error. */
export function adapterProblem(err: unknown): AdapterProblem | undefined {
  return err instanceof Error ? problems.get(err) : undefined;
}

// ── PEFT tensor names ────────────────────────────────────────────────────────────────────────

/** LoRA target modules of llama-family models, with the block PEFT nests each in. */
export const PEFT_MODULE_BLOCKS = {
  q_proj: 'self_attn',
  k_proj: 'self_attn',
  v_proj: 'self_attn',
  o_proj: 'self_attn',
  gate_proj: 'mlp',
  up_proj: 'mlp',
  down_proj: 'mlp',
} as const;
export type PeftModule = keyof typeof PEFT_MODULE_BLOCKS;

/** llama.cpp's tensor name (`blk.N.<name>.weight`) of each PEFT module. */
export const PEFT_MODULE_GGUF = {
  q_proj: 'attn_q',
  k_proj: 'attn_k',
  v_proj: 'attn_v',
  o_proj: 'attn_output',
  gate_proj: 'ffn_gate',
  up_proj: 'ffn_up',
  down_proj: 'ffn_down',
} as const satisfies Record<PeftModule, string>;

/** Every module name of `PEFT_MODULE_BLOCKS`, attention first. */
export const PEFT_MODULES = Object.keys(PEFT_MODULE_BLOCKS) as PeftModule[];

export function isPeftModule(m: string): m is PeftModule {
  return Object.hasOwn(PEFT_MODULE_BLOCKS, m);
}

/** Largest rank a PEFT adapter_config.json may declare (bounds a hostile file's memory). */
export const MAX_LORA_RANK = 512;

/**
 * PEFT's name for one LoRA matrix, e.g.
 * `base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight`.
 * @throws {AdapterShapeError} for an unknown target module.
 */
export function peftTensorName(layer: number, module: string, which: 'A' | 'B'): string {
  if (!isPeftModule(module)) fail({ kind: 'config', message: `unknown LoRA target module ${module}` });
  return `base_model.model.model.layers.${layer}.${PEFT_MODULE_BLOCKS[module]}.${module}.lora_${which}.weight`;
}

/** The one PEFT LoRA tensor-name pattern: layer (no leading zeros), block, module, matrix. */
const PEFT_NAME =
  /^base_model\.model\.model\.layers\.(0|[1-9]\d*)\.(self_attn|mlp)\.([a-z_]+)\.lora_(A|B)\.weight$/;

/** What a PEFT LoRA tensor name says. */
export interface PeftTensorName {
  layer: number;
  module: PeftModule;
  which: 'A' | 'B';
}

/** Layer, module and matrix of a PEFT LoRA tensor name, or undefined when it is not one. */
export function parsePeftTensorName(name: string): PeftTensorName | undefined {
  const m = PEFT_NAME.exec(name);
  if (!m) return undefined;
  const [, layer, block, module, which] = m as unknown as [string, string, string, string, 'A' | 'B'];
  if (!isPeftModule(module) || PEFT_MODULE_BLOCKS[module] !== block) return undefined;
  return { layer: Number(layer), module, which };
}

// ── configs ──────────────────────────────────────────────────────────────────────────────────

/** Largest adapter_config.json accepted. */
const MAX_CONFIG_BYTES = 64 * 1024;

/** PEFT's adapter_config.json fields of a plain LoRA adapter. */
export interface PeftConfigJson {
  peft_type: 'LORA';
  r: number;
  lora_alpha: number;
  target_modules: string[];
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

function badConfig(message: string, options?: { cause?: unknown }): never {
  return fail({ kind: 'config', message }, options);
}

/**
 * Reads PEFT's adapter_config.json (a string or an already parsed object). Only plain LoRA is
 * accepted: variants that change the maths (DoRA, rsLoRA scaling, per-module rank/alpha patterns,
 * transposed fan_in_fan_out weights, trained biases or extra saved modules) are refused by name
 * rather than silently applied wrongly.
 * @throws {AdapterShapeError} (problem `config`) for invalid JSON, a missing/bad `r`, `lora_alpha`
 *   or `target_modules`, or a LoRA variant.
 */
export function parsePeftConfig(config: string | object): AdapterConfig {
  let c: unknown = config;
  if (typeof config === 'string') {
    if (config.length > MAX_CONFIG_BYTES)
      badConfig(`adapter_config.json is larger than ${MAX_CONFIG_BYTES} bytes`);
    try {
      c = JSON.parse(config);
    } catch (cause) {
      badConfig('adapter_config.json is not valid JSON', { cause });
    }
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c))
    badConfig('adapter_config.json is not a JSON object');
  const o = c as Record<string, unknown>;
  if (o['peft_type'] !== undefined && o['peft_type'] !== 'LORA')
    badConfig(`peft_type ${JSON.stringify(o['peft_type'])} is not LORA`);
  const rank = o['r'];
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 1 || rank > MAX_LORA_RANK)
    badConfig(`adapter_config.json: r must be an integer in 1..${MAX_LORA_RANK}`);
  // PEFT's default lora_alpha is 8.
  const alpha = o['lora_alpha'] ?? 8;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0)
    badConfig('adapter_config.json: lora_alpha must be a positive number');
  for (const key of [
    'use_dora',
    'use_rslora',
    'fan_in_fan_out',
    'rank_pattern',
    'alpha_pattern',
    'modules_to_save',
  ]) {
    if (!isEmpty(o[key])) badConfig(`adapter_config.json: ${key} is set; Dure applies plain LoRA only`);
  }
  if (o['bias'] !== undefined && o['bias'] !== 'none')
    badConfig('adapter_config.json: trained biases (bias ≠ "none") are not supported');
  const tm = o['target_modules'];
  let targetModules: string[] = [];
  if (tm === 'all-linear') targetModules = [...PEFT_MODULES];
  else if (Array.isArray(tm) && tm.length > 0 && tm.every((m) => typeof m === 'string')) targetModules = tm;
  else
    badConfig(
      'adapter_config.json: target_modules must be a list of module names (a regular expression is not supported)',
    );
  for (const m of targetModules) {
    if (!isPeftModule(m))
      badConfig(
        `adapter_config.json: target module ${JSON.stringify(m)} is not one of ${PEFT_MODULES.join(', ')}`,
      );
  }
  return { rank: rank as number, alpha: alpha as number, targetModules: [...new Set(targetModules)] };
}

/** A config as PEFT's adapter_config.json fields. */
export function peftConfigJson(config: AdapterConfig): PeftConfigJson {
  return {
    peft_type: 'LORA',
    r: config.rank,
    lora_alpha: config.alpha,
    target_modules: [...config.targetModules],
  };
}

/**
 * The LoRA config a file states in its `__metadata__` (`ADAPTER_META`, written by the server).
 * @throws {AdapterShapeError} (problem `config`) when rank, alpha or the target modules are
 *   missing or malformed.
 */
export function adapterConfigFromMetadata(metadata: Record<string, string>): AdapterConfig {
  const rank = Number(metadata[ADAPTER_META.rank]);
  const alpha = Number(metadata[ADAPTER_META.alpha]);
  let targets: unknown;
  try {
    targets = JSON.parse(metadata[ADAPTER_META.targetModules] ?? 'null');
  } catch {
    targets = null;
  }
  if (!Number.isInteger(rank) || rank < 1 || !(alpha > 0) || !Number.isFinite(alpha))
    badConfig(
      `the adapter does not state its LoRA rank and alpha (${ADAPTER_META.rank}, ${ADAPTER_META.alpha})`,
    );
  if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => typeof t === 'string'))
    badConfig(`the adapter does not state its ${ADAPTER_META.targetModules}`);
  return { rank, alpha, targetModules: [...(targets as string[])] };
}

/** The `__metadata__` entries (`ADAPTER_META`) that state a config in an adapter file. */
export function adapterConfigMetadata(config: AdapterConfig): Record<string, string> {
  return {
    [ADAPTER_META.rank]: String(config.rank),
    [ADAPTER_META.alpha]: String(config.alpha),
    [ADAPTER_META.targetModules]: JSON.stringify(config.targetModules),
  };
}

// ── the header check ─────────────────────────────────────────────────────────────────────────

/** A tensor as a safetensors header lists it (`dtype` absent for tensors about to be written). */
export interface HeaderTensor {
  name: string;
  shape: readonly number[];
  dtype?: SafetensorsDtype;
}

/**
 * What an adapter's tensors must be: either any non-empty set of PEFT LoRA tensors of the targeted
 * modules with lora_A [rank, ·] and lora_B [·, rank] (any dtype), or exactly the `specs` (names
 * and shapes; order free) in `dtype` (default F32).
 */
export type AdapterExpectation =
  | Pick<AdapterConfig, 'rank' | 'targetModules'>
  | { specs: ReadonlyArray<TensorSpec>; dtype?: SafetensorsDtype };

/**
 * Checks a header's tensor list. Pure: no tensor data is needed, so a streaming reader runs it on
 * the header alone.
 * @throws {AdapterShapeError} naming the first problem (problems `name`, `untargeted`, `rank`,
 *   `empty` against a config; `count`, `missing`, `dtype`, `shape` against specs).
 */
export function checkAdapterHeader(tensors: ReadonlyArray<HeaderTensor>, expected: AdapterExpectation): void {
  if ('specs' in expected) {
    const { specs } = expected;
    const want = expected.dtype ?? 'F32';
    if (tensors.length !== specs.length) fail({ kind: 'count', expected: specs.length, got: tensors.length });
    const byName = new Map(tensors.map((t) => [t.name, t]));
    for (const spec of specs) {
      const t = byName.get(spec.name);
      if (!t) fail({ kind: 'missing', tensor: spec.name });
      if (t.dtype !== undefined && t.dtype !== want)
        fail({ kind: 'dtype', tensor: spec.name, dtype: t.dtype, expected: want });
      if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i]))
        fail({ kind: 'shape', tensor: spec.name, shape: [...t.shape], expected: [...spec.shape] });
    }
    return;
  }
  const { rank } = expected;
  const targets = new Set(expected.targetModules);
  for (const t of tensors) {
    const p = parsePeftTensorName(t.name);
    if (!p) fail({ kind: 'name', tensor: t.name });
    if (!targets.has(p.module)) fail({ kind: 'untargeted', tensor: t.name, module: p.module });
    const [d0, d1] = t.shape;
    if (t.shape.length !== 2 || (p.which === 'A' ? d0 : d1) !== rank)
      fail({ kind: 'rank', tensor: t.name, shape: [...t.shape], which: p.which, rank });
  }
  if (tensors.length === 0) fail({ kind: 'empty' });
}

// ── decoding and encoding ────────────────────────────────────────────────────────────────────

export interface DecodedAdapter {
  lora: LoraTensors;
  /** Tensor shapes by PEFT name, in file order. */
  shapes: Map<string, number[]>;
  /** The file's `__metadata__`. */
  metadata: Record<string, string>;
}

export interface DecodeOptions {
  /**
   * PEFT adapter_config.json (text or parsed). When this option is absent (not merely undefined),
   * the config is read from the file's `ADAPTER_META` metadata.
   */
  config?: string | object;
  /** Bounds on the file (default `DEFAULT_SAFETENSORS_LIMITS`). */
  limits?: SafetensorsLimits;
}

function readHeader(bytes: Uint8Array, limits: SafetensorsLimits): SafetensorsHeader {
  try {
    const len = readHeaderLength(bytes, limits);
    if (8 + len > bytes.byteLength) throw new SafetensorsError('header runs past the end of the file');
    return parseHeader(bytes.subarray(8, 8 + len), bytes.byteLength, limits);
  } catch (cause) {
    if (!(cause instanceof SafetensorsError)) throw cause;
    return fail({ kind: 'safetensors', message: cause.message }, { cause });
  }
}

/**
 * An adapter from safetensors bytes (F32, F16 or BF16): the config is parsed (from `opts.config`,
 * or else the file's metadata), the header checked against it (`checkAdapterHeader`), then the
 * data decoded to float32. Modules the config targets but the file lacks simply get no tensors.
 * @throws {AdapterShapeError} for a malformed file, config or tensor list (see `adapterProblem`).
 */
export function decodeAdapter(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedAdapter {
  const given = 'config' in opts ? parsePeftConfig(opts.config as string | object) : undefined;
  // A plain Uint8Array view: a Node Buffer's slice() would not copy.
  const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = readHeader(plain, opts.limits ?? DEFAULT_SAFETENSORS_LIMITS);
  const config = given ?? adapterConfigFromMetadata(header.metadata);
  checkAdapterHeader(header.tensors, config);
  const tensors = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  for (const t of header.tensors) {
    tensors.set(t.name, decodeTensorData(t.dtype, plain.subarray(t.begin, t.end)));
    shapes.set(t.name, t.shape);
  }
  return {
    lora: { rank: config.rank, alpha: config.alpha, targetModules: [...config.targetModules], tensors },
    shapes,
    metadata: header.metadata,
  };
}

/** Shapes of an adapter's tensors from its rank: lora_A [rank, n / rank], lora_B [n / rank, rank]. */
function namedTensors(lora: LoraTensors): NamedTensor[] {
  return [...lora.tensors].map(([name, data]) => {
    const p = parsePeftTensorName(name);
    if (!p) return fail({ kind: 'name', tensor: name });
    const other = data.length / lora.rank;
    if (!Number.isInteger(other))
      fail({ kind: 'rank', tensor: name, shape: [data.length], which: p.which, rank: lora.rank });
    return { name, shape: p.which === 'A' ? [lora.rank, other] : [other, lora.rank], data };
  });
}

export interface EncodeOptions {
  /**
   * The LoRA config: the tensors are checked against it and it is written as `ADAPTER_META`
   * metadata (default: the adapter's own when given `LoraTensors`; none for a list of tensors,
   * e.g. an update holding only lora_B).
   */
  config?: AdapterConfig;
  /** Further `__metadata__` entries (after the config's). */
  metadata?: Record<string, string>;
}

/**
 * An adapter as safetensors bytes (F32, in the order given). Every tensor must have a PEFT LoRA
 * name; with a config, the tensors are checked against it too.
 * @throws {AdapterShapeError} for a foreign name, a tensor that does not fit the config, or data
 *   whose length does not match its shape.
 */
export function encodeAdapter(
  adapter: LoraTensors | ReadonlyArray<NamedTensor>,
  opts: EncodeOptions = {},
): Uint8Array {
  const isLora = !Array.isArray(adapter);
  const tensors = isLora ? namedTensors(adapter as LoraTensors) : (adapter as ReadonlyArray<NamedTensor>);
  const config = opts.config ?? (isLora ? (adapter as LoraTensors) : undefined);
  if (config) checkAdapterHeader(tensors, config);
  else for (const t of tensors) if (!parsePeftTensorName(t.name)) fail({ kind: 'name', tensor: t.name });
  const metadata = { ...(config ? adapterConfigMetadata(config) : {}), ...opts.metadata };
  try {
    return writeSafetensors(tensors, metadata);
  } catch (cause) {
    if (!(cause instanceof SafetensorsError)) throw cause;
    return fail({ kind: 'safetensors', message: cause.message }, { cause });
  }
}
