/**
 * What `dure ask` and `dure eval` share: the model on the Node engine, the verified knowledge base
 * with the same retriever and guard as the widget, and one question answered through the same
 * pipeline (src/answer) the widget runs.
 */
import { answerQuestion, type AnswerLang, type GroundedAnswer } from '../../answer/grounded-answer.ts';
import type { WebGpuEngine } from '../../engine/engine.ts';
import { ruleGuard } from '../../guard/rule-guard.ts';
import { parseKnowledgeBase } from '../../knowledge/kb-file.ts';
import { Bm25Retriever } from '../../knowledge/retriever.ts';
import type { Passage } from '../../knowledge/types.ts';
import { FileSource } from '../../node/file-source.ts';
import { requestNodeGpu } from '../../node/webgpu.ts';
import { WebGpuEngine as Engine } from '../../engine/engine.ts';
import { CliArgsError, readTextFile } from '../args.ts';

/** The widget's default: low, so a grounded answer stays close to its sources. */
export const WIDGET_TEMPERATURE = 0.3;

export interface SessionOptions {
  model: string;
  kb: string;
  kbSha256?: string;
  systemPrompt: string;
  lang: AnswerLang;
  maxTokens: number;
  /** 0: greedy (what eval uses). */
  temperature: number;
  seed?: number;
}

/** One answer in the JSON shape. */
export interface AskRecord {
  id: string;
  answer: string;
  citations: { source: string; section: string; url?: string }[];
  refused: boolean;
  refusal_reason: 'out_of_scope' | 'harmful' | null;
}

export function toRecord(id: string, a: GroundedAnswer): AskRecord {
  return {
    id,
    answer: a.content,
    citations: a.citations.map((c) => ({
      source: c.source,
      section: c.section,
      ...(c.url !== undefined ? { url: c.url } : {}),
    })),
    refused: a.refused,
    refusal_reason: a.refusalReason,
  };
}

export interface GroundedSession {
  /** The knowledge base's passages (what `dure eval` scores answers against). */
  readonly passages: readonly Passage[];
  ask(question: string): Promise<GroundedAnswer>;
  dispose(): Promise<void>;
}

export async function openGroundedSession(o: SessionOptions): Promise<GroundedSession> {
  const kb = parseKnowledgeBase(await readTextFile(o.kb), o.kbSha256);
  const retriever = new Bm25Retriever(kb.passages);
  const gpu = await requestNodeGpu();
  process.stderr.write(`dure: WebGPU adapter: ${gpu.description}\n`);
  const engine: WebGpuEngine = new Engine(gpu.device);
  const info = await engine.loadSource(await FileSource.open(o.model));
  return {
    passages: kb.passages,
    ask: (question) =>
      answerQuestion(question, {
        retriever,
        guard: ruleGuard,
        systemPrompt: o.systemPrompt,
        lang: o.lang,
        contextLength: info.contextLength,
        maxTokens: o.maxTokens,
        countTokens: (m) => engine.countTokens(m),
        generate: async (messages, maxTokens) => {
          const it = engine.generate({
            messages,
            maxTokens,
            greedy: o.temperature <= 0,
            temperature: o.temperature,
            ...(o.seed !== undefined ? { seed: o.seed } : {}),
          });
          for (;;) {
            const r = await it.next();
            if (r.done) return r.value.text;
          }
        },
      }),
    dispose: () => engine.dispose(),
  };
}

/** `{"id","question"}` lines (extra fields allowed, so a Q&A set can be asked directly). */
export function parseQuestionsJsonl(text: string): { id: string; question: string }[] {
  const out: { id: string; question: string }[] = [];
  text.split('\n').forEach((line, n) => {
    if (!line.trim()) return;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      throw new CliArgsError(`questions line ${n + 1} is not JSON`);
    }
    const r = o as { id?: unknown; question?: unknown } | null;
    if (!r || typeof r.question !== 'string' || (r.id !== undefined && typeof r.id !== 'string'))
      throw new CliArgsError(`questions line ${n + 1} needs {"id": string, "question": string}`);
    out.push({ id: r.id ?? String(out.length + 1), question: r.question });
  });
  return out;
}

/** Reads a positive whole number option. */
export function wholeNumber(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 4096)
    throw new CliArgsError(`--${name} must be a whole number in 1..4096`);
  return n;
}

export function langOption(value: string): AnswerLang {
  if (value !== 'ko' && value !== 'en') throw new CliArgsError('--lang must be ko or en');
  return value;
}
