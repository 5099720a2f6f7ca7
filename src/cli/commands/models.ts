/**
 * `dure models [--lang en] [--json]` — the catalogue of recommended Korean-capable GGUF files
 * (src/cli/models-catalogue.json) with licence, size, quant, SHA-256 and where to get them, and
 * whether this build's WebGPU engine runs them.
 *
 * `dure models add FILE.gguf [--name N] [--id ID] [--models-dir DIR] [--gpu-budget-mib N]
 * [--no-default] [--lang en] [--json]` — checks a downloaded file (architecture, every tensor
 * type, parameters, size, GPU memory estimate, licence, SHA-256) and registers it for the demo
 * portal and `npm start` (public/models/<id>.gguf + <id>.json + registry.json). A file the engine
 * would refuse is reported and nothing is registered.
 *
 * `dure models use ID|demo` — which registered model the demo portal loads (`demo`: Dure's own).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHITECTURES } from '../../engine/model/config.ts';
import { GPU_WEIGHT_TYPES } from '../../engine/gpu/weight-layout.ts';
import { GgmlType } from '../../engine/gguf/types.ts';
import { DEFAULT_GPU_BUDGET_BYTES, type ModelCheck } from '../../model-manager/model-check.ts';
import { refusalText } from '../../model-manager/refusal-text.ts';
import { checkModelFile, registerModel, setDefaultModel } from '../../node/model-registry.ts';
import { DureError } from '../../protocol/errors.ts';
import { CliArgsError, reportError, parseCliArgs } from '../args.ts';

const HELP = `사용법 / usage:
  dure models [--lang en] [--json]
      추천 한국어 모델 목록 / recommended Korean-capable GGUF models
  dure models add FILE.gguf [--name N] [--id ID] [--no-default] [--models-dir DIR]
                            [--gpu-budget-mib N] [--check-only] [--lang en] [--json]
      파일을 검사하고 데모 포털·npm start에 등록 / check a file and register it for the demo portal
  dure models use ID|demo [--models-dir DIR]
      데모 포털이 쓸 등록 모델 고르기 / pick the registered model the demo portal loads

  내려받기 예 / download, e.g.:
    curl -L -o model.gguf "<URL>" && sha256sum model.gguf && npx dure models add model.gguf
`;

type Lang = 'ko' | 'en';

export interface CatalogueEntry {
  id: string;
  name: string;
  architecture: string;
  quant: string;
  license: string;
  licenseUrl: string;
  size: string | null;
  sizeMB: number | null;
  sha256: string | null;
  url: string | null;
  repo?: string;
  hashFrom: string | null;
  goodFor: Record<Lang, string>;
  browser: 'good' | 'high-end' | 'too-large';
}

/** Widths of the rows llama.cpp quantizes with fallbacks (Qwen2.5-0.5B: 896, Gemma-3-1B: 1152). */
const Q4_K_M_FALLBACK_MODELS = new Set(['qwen2.5-0.5b-instruct-q4_k_m', 'gemma-3-1b-it']);

/**
 * The tensor types a file of this quant holds (F32 norms aside): Q4_K_M mixes Q4_K and Q6_K, and
 * rows whose length is not a multiple of 256 fall back to Q5_0 / Q8_0 (llama-quant.cpp).
 */
export function expectedTypes(e: CatalogueEntry): string[] {
  if (e.quant === 'Q4_K_M')
    return Q4_K_M_FALLBACK_MODELS.has(e.id) ? ['Q4_K', 'Q6_K', 'Q5_0', 'Q8_0'] : ['Q4_K', 'Q6_K'];
  return [e.quant];
}

/** Whether this build's WebGPU engine runs the entry, and if not why (computed, not stored). */
export function engineStatus(e: CatalogueEntry): { runs: boolean; missing: string[] } {
  const missing: string[] = [];
  if (!(ARCHITECTURES as readonly string[]).includes(e.architecture)) missing.push(e.architecture);
  const gpu = new Set(GPU_WEIGHT_TYPES.map((t) => GgmlType[t]));
  for (const t of expectedTypes(e)) if (!gpu.has(t)) missing.push(t);
  return { runs: missing.length === 0, missing };
}

export async function loadCatalogue(): Promise<CatalogueEntry[]> {
  const text = await readFile(new URL('../models-catalogue.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { models: CatalogueEntry[] }).models;
}

/** Terminal columns a string takes (Hangul and other wide characters take two). */
function width(s: string): number {
  let w = 0;
  for (const ch of s)
    w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60]/.test(ch) ? 2 : 1;
  return w;
}
const pad = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - width(s)));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => width(r[i]!))));
  const line = (r: string[]) => `| ${r.map((c, i) => pad(c, widths[i]!)).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

const T = {
  ko: {
    title: '추천 한국어 소형 모델 (GGUF)',
    head: ['모델', '구조', '양자화', '크기', '라이선스', 'SHA-256', '브라우저', '두레 WebGPU'],
    unverified: '확인 필요',
    browser: { good: '일반 GPU', 'high-end': '고사양 GPU', 'too-large': '어려움' },
    runs: '실행 가능',
    notYet: (m: string[]) => `미지원: ${m.join(', ')}`,
    details: '용도와 받는 곳',
    use: '용도',
    get: '받기',
    hash: 'SHA-256',
    noUrl: '확인 필요 (파일 주소와 해시를 모델 페이지에서 확인하세요)',
    howto:
      '내려받은 뒤: sha256sum 으로 해시를 위 값과 비교하고 `npx dure models add 파일.gguf` 로 검사·등록하세요.\n' +
      '"확인 필요"인 항목은 해시를 확인할 수 있는 출처를 찾지 못한 것입니다. 라이선스는 사용 전에 원문을 꼭 읽으세요.',
  },
  en: {
    title: 'Recommended small Korean-capable models (GGUF)',
    head: ['Model', 'Arch', 'Quant', 'Size', 'Licence', 'SHA-256', 'Browser', 'Dure WebGPU'],
    unverified: 'unverified',
    browser: { good: 'typical GPU', 'high-end': 'high-end GPU', 'too-large': 'too large' },
    runs: 'runs',
    notYet: (m: string[]) => `not yet: ${m.join(', ')}`,
    details: 'What for, and where from',
    use: 'good for',
    get: 'get',
    hash: 'SHA-256',
    noUrl: 'unverified (confirm the file URL and hash on the model page)',
    howto:
      'After downloading: compare `sha256sum` with the value above, then check and register it with `npx dure models add FILE.gguf`.\n' +
      '"unverified" means no readable source stated the hash. Read each licence before use.',
  },
} as const;

export function catalogueText(models: CatalogueEntry[], lang: Lang): string {
  const t = T[lang];
  const rows = [
    [...t.head],
    ...models.map((m) => {
      const s = engineStatus(m);
      return [
        m.name,
        m.architecture,
        m.quant,
        m.size ?? t.unverified,
        m.license,
        m.sha256 ? `${m.sha256.slice(0, 12)}…` : t.unverified,
        t.browser[m.browser],
        s.runs ? t.runs : t.notYet(s.missing),
      ];
    }),
  ];
  const details = models.flatMap((m) => [
    `- ${m.name}`,
    `    ${t.use}: ${m.goodFor[lang]}`,
    `    ${t.get}: ${m.url ?? `${t.noUrl}: ${m.repo ?? ''}`}`,
    `    ${t.hash}: ${m.sha256 ?? t.unverified}`,
  ]);
  return [t.title, '', table(rows), '', `${t.details}:`, ...details, '', t.howto, ''].join('\n');
}

const MiB = 1024 * 1024;
const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;

export function checkText(c: ModelCheck, lang: Lang): string {
  const ko = lang === 'ko';
  const f = c.fit;
  const types = Object.entries(c.tensorTypes)
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ');
  const lines = [
    `${ko ? '이름' : 'Name'}: ${c.name ?? '-'}`,
    `${ko ? '구조' : 'Architecture'}: ${c.architecture ?? '-'} (${c.architectureSupported ? (ko ? '지원' : 'supported') : ko ? '지원 안 함' : 'not supported'})`,
    `${ko ? '매개변수' : 'Parameters'}: ${c.parameters.toLocaleString('en-US')}`,
    `${ko ? '파일 크기' : 'File size'}: ${mib(c.fileBytes)}`,
    `${ko ? '텐서 형식' : 'Tensor types'}: ${types}`,
  ];
  if (c.unsupportedTensors.length > 0) {
    lines.push(
      `${ko ? 'GPU에서 실행할 수 없는 텐서' : 'Tensors the GPU path cannot run'} (${c.unsupportedTensors.length}):`,
    );
    for (const u of c.unsupportedTensors.slice(0, 20))
      lines.push(
        `    ${u.name}: ${u.type}${u.reason === 'row-length' ? (ko ? ' (행 길이가 블록에 맞지 않음)' : ' (row length does not fit the block)') : ''}`,
      );
    if (c.unsupportedTensors.length > 20)
      lines.push(`    … ${c.unsupportedTensors.length - 20} ${ko ? '개 더' : 'more'}`);
  } else {
    lines.push(
      ko ? '모든 텐서 형식을 GPU에서 실행할 수 있습니다.' : 'Every tensor type runs on the GPU path.',
    );
  }
  lines.push(
    `${ko ? 'GPU 메모리 추정' : 'GPU memory estimate'}: ${ko ? '가중치' : 'weights'} ${mib(f.weightBytes)} + ` +
      `${ko ? 'KV 캐시' : 'KV cache'} ${mib(f.kvCacheBytes)} (${ko ? '컨텍스트' : 'context'} ${f.contextLength}, f32) + ` +
      `${ko ? '작업 버퍼' : 'scratch'} ${mib(f.scratchBytes)} = ${mib(f.totalBytes)} / ${ko ? '예산' : 'budget'} ${mib(f.budgetBytes)} → ` +
      (f.fits
        ? ko
          ? '들어감'
          : 'fits'
        : ko
          ? '넘침 (큰 GPU가 필요하거나 CPU 경로)'
          : 'does not fit (needs a larger GPU or the CPU path)'),
    ko
      ? '    가정: 기본 컨텍스트 min(모델, 4096), f32 KV 캐시, 행렬은 파일 그대로·벡터는 f32로 올림, 예산은 브라우저 탭 하나가 흔히 쓸 수 있는 GPU 메모리(--gpu-budget-mib로 바꿈).'
      : '    Assumes: default context min(model, 4096), f32 KV cache, matrices uploaded as in the file and vectors as f32, and a budget of what one browser tab typically gets (--gpu-budget-mib).',
    `${ko ? '라이선스' : 'Licence'}: ${c.license.id ?? (ko ? '파일에 없음 (general.license) — 원문을 확인하세요' : 'not in the file (general.license) — check the original')}` +
      `${c.license.name ? ` · ${c.license.name}` : ''}${c.license.link ? ` · ${c.license.link}` : ''}`,
  );
  return lines.join('\n');
}

function modelsDir(flag: string | undefined): string {
  return (
    flag ??
    process.env['DURE_MODELS_DIR'] ??
    join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'public', 'models')
  );
}

/** Prints the refusal in plain words (the `error CODE:` line follows from reportError). */
function explain(e: unknown, lang: Lang): void {
  if (e instanceof DureError) process.stderr.write(`${refusalText(e, lang, 'operator')}\n`);
}

async function add(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCliArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      id: { type: 'string' },
      'models-dir': { type: 'string' },
      'gpu-budget-mib': { type: 'string' },
      'no-default': { type: 'boolean', default: false },
      'check-only': { type: 'boolean', default: false },
      lang: { type: 'string', default: 'ko' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  const lang: Lang = v.lang === 'en' ? 'en' : 'ko';
  if (positionals.length !== 1) throw new CliArgsError('models add needs exactly one FILE.gguf');
  const file = positionals[0]!;
  let budget = DEFAULT_GPU_BUDGET_BYTES;
  if (v['gpu-budget-mib'] !== undefined) {
    const n = Number(v['gpu-budget-mib']);
    if (!Number.isFinite(n) || n <= 0) throw new CliArgsError('--gpu-budget-mib must be a positive number');
    budget = n * MiB;
  }
  try {
    if (v['check-only']) {
      const check = await checkModelFile(file, budget);
      const { refusal, ...rest } = check;
      const out = {
        ...rest,
        runs: refusal === null,
        refusal: refusal && { code: refusal.code, message: refusal.message },
      };
      process.stdout.write(v.json ? `${JSON.stringify(out)}\n` : `${checkText(check, lang)}\n`);
      if (refusal) throw refusal;
      return 0;
    }
    const r = await registerModel(file, {
      dir: modelsDir(v['models-dir']),
      budgetBytes: budget,
      makeDefault: !v['no-default'],
      ...(v.name !== undefined ? { name: v.name } : {}),
      ...(v.id !== undefined ? { id: v.id } : {}),
    });
    // A file whose hash a catalogue entry states is that entry's file, byte for byte.
    const match = (await loadCatalogue()).find((m) => m.sha256 === r.descriptor.sha256) ?? null;
    if (v.json) {
      process.stdout.write(
        `${JSON.stringify({ descriptor: r.descriptor, fit: r.check.fit, registry: r.registry, catalogue: match?.id ?? null })}\n`,
      );
    } else {
      const ko = lang === 'ko';
      process.stdout.write(
        [
          checkText(r.check, lang),
          `SHA-256: ${r.descriptor.sha256}` +
            (match
              ? ko
                ? ` (카탈로그의 ${match.name} ${match.quant}와 일치)`
                : ` (matches the catalogue's ${match.name} ${match.quant})`
              : ko
                ? ' (카탈로그에 없는 해시: 받은 곳의 값과 직접 비교하세요)'
                : ' (not a catalogue hash: compare it with the source yourself)'),
          `${ko ? '등록' : 'Registered'}: /models/${r.descriptor.file} (${ko ? '설명' : 'descriptor'} /models/${r.descriptor.id}.json)` +
            (r.registry.default === r.descriptor.id
              ? ko
                ? ' — 데모 포털의 기본 모델'
                : " — the demo portal's default model"
              : ''),
          ko
            ? '`npm start` 후 http://localhost:5173/demo/ 에서 확인하세요.'
            : 'Run `npm start` and open http://localhost:5173/demo/.',
          '',
        ].join('\n'),
      );
    }
    return 0;
  } catch (e) {
    // A refused file: report what was found (unless already printed), then the typed error.
    if (!v['check-only'] && !v.json && e instanceof DureError) {
      const check = await checkModelFile(file, budget).catch(() => null);
      if (check) process.stdout.write(`${checkText(check, lang)}\n`);
    }
    explain(e, lang);
    throw e;
  }
}

/** `dure models use ID|demo`: which registered model the demo portal loads. */
async function use(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCliArgs({
    args: argv,
    options: { 'models-dir': { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new CliArgsError('models use needs one model id (or demo)');
  const registry = await setDefaultModel(modelsDir(v['models-dir']), positionals[0]!);
  process.stdout.write(`기본 모델 / default model: ${registry.default}\n`);
  return 0;
}

/** Runs `dure models`; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(HELP);
      return 0;
    }
    if (argv[0] === 'add') return await add(argv.slice(1));
    if (argv[0] === 'use') return await use(argv.slice(1));
    const { values: v } = parseCliArgs({
      args: argv,
      options: {
        lang: { type: 'string', default: 'ko' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    const models = await loadCatalogue();
    if (v.json) {
      const out = models.map((m) => ({ ...m, verified: m.sha256 !== null, dureWebGpu: engineStatus(m) }));
      process.stdout.write(`${JSON.stringify({ models: out })}\n`);
    } else {
      process.stdout.write(catalogueText(models, v.lang === 'en' ? 'en' : 'ko'));
    }
    return 0;
  } catch (e) {
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      return reportError(new CliArgsError(e.message));
    return reportError(e);
  }
}
