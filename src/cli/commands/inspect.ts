/**
 * `dure inspect --model F.gguf [--json]`
 *
 * Summarizes a GGUF file from its header alone (tensor data is never read): architecture and
 * hyper-parameters, parameter count, tensor types with counts, tokenizer and chat template.
 */
import { SUPPORTED_ARCHITECTURES } from '../../engine/gguf/metadata.ts';
import { ggmlTypeName } from '../../engine/gguf/quant/traits.ts';
import { readGguf } from '../../engine/gguf/reader.ts';
import { GgufValueType, type GgufFile, type GgufKv } from '../../engine/gguf/types.ts';
import { FileSource } from '../../node/file-source.ts';
import { CliArgsError, reportError, parseCliArgs } from '../args.ts';
import { toArgsError } from './tokenize.ts';

const HELP = `사용법 / usage: dure inspect --model F.gguf [--json]

  --model F.gguf   GGUF 모델 파일 / model file
  --json           JSON 객체 하나로 출력 / print one JSON object
`;

/** llama.cpp's `general.file_type` names (enum llama_ftype). */
const FILE_TYPES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  32: 'BF16',
};

export interface InspectReport {
  file: string;
  fileBytes: number;
  ggufVersion: number;
  alignment: number;
  name: string | null;
  architecture: string | null;
  architectureSupported: boolean;
  fileType: string | null;
  hyperparameters: Record<string, number | null>;
  parameters: number;
  tensorCount: number;
  tensorBytes: number;
  bitsPerWeight: number;
  tensorTypes: Record<string, { tensors: number; parameters: number; bytes: number }>;
  tokenizer: {
    model: string | null;
    pre: string | null;
    vocabSize: number | null;
    merges: number | null;
    bosTokenId: number | null;
    eosTokenId: number | null;
    addBosToken: boolean | null;
  };
  chatTemplate: { present: boolean; length: number };
  metadataKeys: number;
}

/** The shortest decimal that reads back as the same f32 (1e-6 rather than 9.999999974752427e-7). */
function shortestF32(v: number): number {
  for (let p = 1; p <= 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

function scalar(kv: GgufKv | undefined): number | string | boolean | null {
  if (!kv || kv.type === GgufValueType.ARRAY) return null;
  const v = kv.value;
  if (typeof v === 'bigint') return Number(v);
  if (kv.type === GgufValueType.FLOAT32 && typeof v === 'number') return shortestF32(v);
  return v as number | string | boolean;
}

function num(file: GgufFile, key: string): number | null {
  const v = scalar(file.metadata.get(key));
  return typeof v === 'number' ? v : null;
}

function str(file: GgufFile, key: string): string | null {
  const v = scalar(file.metadata.get(key));
  return typeof v === 'string' ? v : null;
}

function arrayLength(file: GgufFile, key: string): number | null {
  const kv = file.metadata.get(key);
  return kv && kv.type === GgufValueType.ARRAY ? (kv.value as ArrayLike<unknown>).length : null;
}

/** Builds the report of a parsed GGUF file. */
export function inspectGguf(file: GgufFile, path: string): InspectReport {
  const arch = str(file, 'general.architecture');
  const hp = (k: string): number | null => (arch ? num(file, `${arch}.${k}`) : null);
  const types: InspectReport['tensorTypes'] = {};
  let parameters = 0;
  let tensorBytes = 0;
  for (const t of file.tensors) {
    const name = ggmlTypeName(t.type);
    const e = (types[name] ??= { tensors: 0, parameters: 0, bytes: 0 });
    e.tensors++;
    e.parameters += t.elements;
    e.bytes += t.byteLength;
    parameters += t.elements;
    tensorBytes += t.byteLength;
  }
  const ft = num(file, 'general.file_type');
  const template = str(file, 'tokenizer.chat_template');
  const addBos = scalar(file.metadata.get('tokenizer.ggml.add_bos_token'));
  return {
    file: path,
    fileBytes: file.source.size,
    ggufVersion: file.version,
    alignment: file.alignment,
    name: str(file, 'general.name'),
    architecture: arch,
    architectureSupported: arch !== null && (SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch),
    fileType: ft === null ? null : (FILE_TYPES[ft] ?? `ftype ${ft}`),
    hyperparameters: {
      contextLength: hp('context_length'),
      embeddingLength: hp('embedding_length'),
      blockCount: hp('block_count'),
      feedForwardLength: hp('feed_forward_length'),
      headCount: hp('attention.head_count'),
      headCountKv: hp('attention.head_count_kv'),
      keyLength: hp('attention.key_length'),
      ropeFreqBase: hp('rope.freq_base'),
      rmsNormEpsilon: hp('attention.layer_norm_rms_epsilon'),
      slidingWindow: hp('attention.sliding_window'),
      attnLogitSoftcapping: hp('attn_logit_softcapping'),
      finalLogitSoftcapping: hp('final_logit_softcapping'),
    },
    parameters,
    tensorCount: file.tensors.length,
    tensorBytes,
    bitsPerWeight: parameters > 0 ? Math.round(((tensorBytes * 8) / parameters) * 1000) / 1000 : 0,
    tensorTypes: types,
    tokenizer: {
      model: str(file, 'tokenizer.ggml.model'),
      pre: str(file, 'tokenizer.ggml.pre'),
      vocabSize: arrayLength(file, 'tokenizer.ggml.tokens'),
      merges: arrayLength(file, 'tokenizer.ggml.merges'),
      bosTokenId: num(file, 'tokenizer.ggml.bos_token_id'),
      eosTokenId: num(file, 'tokenizer.ggml.eos_token_id'),
      addBosToken: typeof addBos === 'boolean' ? addBos : null,
    },
    chatTemplate: { present: template !== null, length: template?.length ?? 0 },
    metadataKeys: file.metadata.size,
  };
}

function human(r: InspectReport): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const hp = Object.entries(r.hyperparameters)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `    ${k}: ${v}`);
  const types = Object.entries(r.tensorTypes)
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([k, v]) => `    ${k}: ${v.tensors} tensors, ${v.parameters} params, ${mb(v.bytes)}`);
  const t = r.tokenizer;
  return [
    `파일 / file: ${r.file} (${mb(r.fileBytes)}, GGUF v${r.ggufVersion}, alignment ${r.alignment})`,
    `이름 / name: ${r.name ?? '-'}`,
    `아키텍처 / architecture: ${r.architecture ?? '-'}${r.architectureSupported ? '' : ' (지원 안 함 / not supported)'}`,
    `양자화 / file type: ${r.fileType ?? '-'}`,
    `하이퍼파라미터 / hyperparameters:`,
    ...hp,
    `매개변수 / parameters: ${r.parameters} in ${r.tensorCount} tensors, ${mb(r.tensorBytes)}, ${r.bitsPerWeight} bits/weight`,
    `텐서 형식 / tensor types:`,
    ...types,
    `토크나이저 / tokenizer: model ${t.model ?? '-'}, pre ${t.pre ?? '-'}, vocab ${t.vocabSize ?? '-'}, merges ${t.merges ?? '-'}, bos ${t.bosTokenId ?? '-'}, eos ${t.eosTokenId ?? '-'}, add_bos ${t.addBosToken ?? '-'}`,
    `채팅 템플릿 / chat template: ${r.chatTemplate.present ? `있음 / present (${r.chatTemplate.length} chars)` : '없음 / none'}`,
    '',
  ].join('\n');
}

/** Runs `dure inspect`; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  try {
    const { values: v } = parseCliArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (v.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (!v.model) throw new CliArgsError('--model is required');
    const source = await FileSource.open(v.model);
    let report: InspectReport;
    try {
      report = inspectGguf(await readGguf(source), v.model);
    } finally {
      await source.close();
    }
    process.stdout.write(v.json ? `${JSON.stringify(report)}\n` : human(report));
    return 0;
  } catch (e) {
    return reportError(toArgsError(e));
  }
}
