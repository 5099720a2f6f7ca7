/**
 * `dure kb build --src DIR --out kb.json [--json]` — builds a portal's knowledge base from its
 * Markdown, HTML, text and JSON-record files (issue 17), the same bytes for the same folder.
 * `dure kb eval --kb kb.json --qa qa.jsonl [--tokenizer T] [--threshold X] [--json]` — measures
 * retrieval on a labelled Q&A set: recall@1/@3 per tokenisation and the out-of-scope decision.
 */
import { readdir, rename, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { buildKnowledgeBase, isSourceFile, type SourceFile } from '../../knowledge/build.ts';
import { evaluateRetrieval, parseQaJsonl, type MethodReport } from '../../knowledge/evaluate.ts';
import { parseKnowledgeBase, serializeKnowledgeBase } from '../../knowledge/kb-file.ts';
import { TOKENIZER_NAMES, type TokenizerName } from '../../knowledge/tokenize.ts';
import { FileOpenError } from '../../node/file-source.ts';
import { CliArgsError, readTextFile, reportError, parseCliArgs } from '../args.ts';
import { toArgsError } from './tokenize.ts';

const HELP = `사용법 / usage:
  dure kb build --src DIR --out kb.json [--json]
  dure kb eval --kb kb.json --qa qa.jsonl [--tokenizer T] [--threshold X] [--json]

build  폴더의 .md .html .txt .json 문서로 지식 베이스(kb.json)를 만듭니다 (같은 입력 → 같은 파일).
       Builds kb.json from the folder's .md, .html, .txt and .json files (same input, same bytes).
  --src DIR     문서 폴더 (하위 폴더 포함) / folder of documents (subfolders included)
  --out F       출력 파일 / output file
  --json        결과를 JSON으로 출력 / print the result as JSON

eval   질문-정답 세트로 검색 품질을 잽니다 (토큰화 방식별 recall@1/@3, 범위 밖 질문 판정).
       Measures retrieval on a Q&A set: recall@1/@3 per tokenisation, out-of-scope decision.
  --kb F        kb.json
  --qa F        JSONL {"id","split":"dev"|"heldout","question","source"|null,"section"?}
  --tokenizer T ${TOKENIZER_NAMES.join(' | ')} (기본: 모두 / default: all)
  --threshold X 범위 밖 판정 기준 (기본: dev에서 선택) / out-of-scope threshold (default: chosen on dev)
  --json        결과를 JSON으로 출력 / print the result as JSON
`;

/** Every source file under `dir`, named relative to it with '/' separators; dot files skipped. */
async function sourceFiles(dir: string): Promise<SourceFile[]> {
  const names: string[] = [];
  const walk = async (d: string) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (e) {
      throw new FileOpenError(`cannot read ${d}: ${(e as { code?: string }).code ?? 'unknown error'}`, {
        cause: e,
      });
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && isSourceFile(e.name)) names.push(p);
    }
  };
  await walk(dir);
  names.sort();
  return Promise.all(
    names.map(async (p) => ({ name: relative(dir, p).split(sep).join('/'), text: await readTextFile(p) })),
  );
}

async function build(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    src: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (v.help) return help();
  if (typeof v.src !== 'string') throw new CliArgsError('--src is required');
  if (typeof v.out !== 'string') throw new CliArgsError('--out is required');
  const files = await sourceFiles(v.src);
  if (files.length === 0) throw new CliArgsError(`${v.src} holds no .md, .html, .txt or .json files`);
  const kb = buildKnowledgeBase(files);
  const text = serializeKnowledgeBase(kb);
  // Write then rename: a portal never serves a half-written kb.json.
  const tmp = `${v.out}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, v.out);
  const bytes = new TextEncoder().encode(text).byteLength;
  const summary = { out: v.out, files: files.length, passages: kb.passages.length, bytes, sha256: kb.sha256 };
  process.stdout.write(
    v.json
      ? `${JSON.stringify(summary)}\n`
      : `${v.out}: ${kb.passages.length} passages from ${files.length} files, ${bytes} bytes, sha256 ${kb.sha256}\n`,
  );
  return 0;
}

async function evaluate(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    kb: { type: 'string' },
    qa: { type: 'string' },
    tokenizer: { type: 'string' },
    threshold: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (v.help) return help();
  if (typeof v.kb !== 'string') throw new CliArgsError('--kb is required');
  if (typeof v.qa !== 'string') throw new CliArgsError('--qa is required');
  let methods: TokenizerName[] = [...TOKENIZER_NAMES];
  if (typeof v.tokenizer === 'string') {
    if (!(TOKENIZER_NAMES as readonly string[]).includes(v.tokenizer)) {
      throw new CliArgsError(`--tokenizer must be one of ${TOKENIZER_NAMES.join(', ')}`);
    }
    methods = [v.tokenizer as TokenizerName];
  }
  let threshold: number | undefined;
  if (typeof v.threshold === 'string') {
    threshold = Number(v.threshold);
    if (!Number.isFinite(threshold) || threshold < 0)
      throw new CliArgsError('--threshold must be a number ≥ 0');
  }
  const kb = parseKnowledgeBase(await readTextFile(v.kb));
  const items = parseQaJsonl(await readTextFile(v.qa));
  const results = methods.map((tokenizer) => evaluateRetrieval(kb.passages, items, { tokenizer, threshold }));
  if (v.json) {
    process.stdout.write(`${JSON.stringify({ sha256: kb.sha256, methods: results })}\n`);
    return 0;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);
  const row = (r: MethodReport) =>
    `${r.tokenizer.padEnd(13)} ${r.split.padEnd(8)} ${`${r.inScopeQuestions}+${r.questions - r.inScopeQuestions}`.padStart(6)}  ${pct(r.recallAt1)}  ${pct(r.recallAt3)}  ${pct(r.docRecallAt3)}   ${r.outOfScope.threshold.toFixed(2)}  ${pct(r.outOfScope.precision)}  ${pct(r.outOfScope.recall)}  ${r.outOfScope.inScopeDeclined}`;
  process.stdout.write(
    [
      `${kb.passages.length} passages, ${items.length} questions`,
      'tokenizer     split    in+out     r@1     r@3  doc@3  thresh  oos-P   oos-R  in-scope declined',
      ...results.flatMap((r) => r.reports.map(row)),
      '',
    ].join('\n'),
  );
  return 0;
}

function help(): number {
  process.stdout.write(HELP);
  return 0;
}

function parse<O extends Record<string, { type: 'string' | 'boolean'; default?: boolean }>>(
  argv: string[],
  options: O,
) {
  try {
    return parseCliArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
    });
  } catch (e) {
    throw toArgsError(e);
  }
}

export async function run(argv: string[]): Promise<number> {
  try {
    const [sub, ...rest] = argv;
    if (sub === 'build') return await build(rest);
    if (sub === 'eval') return await evaluate(rest);
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') return help();
    throw new CliArgsError(`unknown kb command ${JSON.stringify(sub)}; use "build" or "eval"`);
  } catch (e) {
    return reportError(e);
  }
}
