/**
 * Records → `TrainExample`s for the LoRA trainer (src/training/api.ts). Platform-neutral: the
 * institution console, the federation demo and the demo-model tools share it.
 *
 * Instruction records are rendered with the model's own chat template as one user turn; the prompt
 * tokens get lossMask 0 and the answer (+ end of turn) lossMask 1, so a model learns to answer, not
 * to repeat questions (issue #8, item 2: "train on answers only").
 */
import type { ChatMessage } from '../engine/api.ts';
import { encodeChat, type ChatTemplate } from '../engine/chat-template/index.ts';
import type { Tokenizer } from '../engine/tokenizer/index.ts';
import type { TrainExample } from './api.ts';
import { TrainExampleError } from '../protocol/errors.ts';
export { TrainExampleError };

/** One Q&A record in the JSONL format. `input` is optional context for the instruction. */
export interface InstructionRecord {
  instruction: string;
  input?: string;
  output: string;
}

export interface ExampleOptions {
  /** A system turn placed before every user turn (e.g. the widget's system prompt). */
  system?: string;
}

export interface ConversionReport {
  examples: TrainExample[];
  /** Indices of records whose answer was cut to fit `maxSeqLen`. */
  truncated: number[];
  /** Indices of records whose prompt alone leaves no room for an answer token. */
  skipped: number[];
}

/** The user turn's text: the instruction, then the input (if any) after a blank line. */
export function userContent(record: InstructionRecord): string {
  const input = record.input?.trim() ?? '';
  return input ? `${record.instruction.trim()}\n\n${input}` : record.instruction.trim();
}

function checkRecord(record: InstructionRecord, index: number): void {
  const bad = (what: string) => new TrainExampleError(`record ${index}: ${what}`);
  if (typeof record !== 'object' || record === null) throw bad('is not an object');
  if (typeof record.instruction !== 'string' || record.instruction.trim() === '') {
    throw bad('"instruction" must be a non-empty string');
  }
  if (record.input !== undefined && typeof record.input !== 'string') throw bad('"input" must be a string');
  if (typeof record.output !== 'string' || record.output.trim() === '') {
    throw bad('"output" must be a non-empty string');
  }
}

function startsWith(a: readonly number[], prefix: readonly number[]): boolean {
  if (prefix.length > a.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

/**
 * Answer token ids as the template writes them after the generation prompt, ending with the first
 * end-of-generation token (ChatML: `answer<|im_end|>`). Rendering the whole conversation, rather
 * than appending `encode(answer)`, keeps whatever the template puts around an assistant turn. If
 * the prompt does not tokenize as a prefix of the whole (a merge across the boundary), the answer
 * is encoded on its own and the EOS token appended.
 */
function answerIds(
  template: ChatTemplate,
  tokenizer: Tokenizer,
  messages: ChatMessage[],
  prompt: number[],
  output: string,
): number[] {
  const full = encodeChat(
    template,
    tokenizer,
    { messages: [...messages, { role: 'assistant', content: output }], addGenerationPrompt: false },
    { addBos: false },
  );
  let answer: number[];
  if (startsWith(full, prompt)) {
    answer = full.slice(prompt.length);
    const end = answer.findIndex((id) => tokenizer.isEog(id));
    if (end >= 0) return answer.slice(0, end + 1);
  } else {
    answer = tokenizer.encode(output, { parseSpecial: false });
  }
  const eos = tokenizer.eosId;
  if (eos === null) throw new TrainExampleError('the vocabulary has no EOS token to end an answer with');
  return [...answer, eos];
}

/**
 * Converts instruction records and reports what did not fit.
 * @throws {TrainExampleError} for a malformed record, `maxSeqLen < 2`, or a vocabulary without EOS.
 * @throws {ChatTemplateError | ChatTemplateRejectedError} when the template fails to render.
 */
export function convertRecords(
  records: readonly InstructionRecord[],
  tokenizer: Tokenizer,
  chatTemplate: ChatTemplate,
  maxSeqLen: number,
  options: ExampleOptions = {},
): ConversionReport {
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < 2) {
    throw new TrainExampleError(`maxSeqLen must be an integer ≥ 2, got ${maxSeqLen}`);
  }
  const report: ConversionReport = { examples: [], truncated: [], skipped: [] };
  records.forEach((record, index) => {
    checkRecord(record, index);
    const messages: ChatMessage[] = [];
    if (options.system) messages.push({ role: 'system', content: options.system });
    messages.push({ role: 'user', content: userContent(record) });
    // As the engine does at inference (WebGpuEngine.promptIds): templates write BOS themselves.
    const prompt = encodeChat(
      chatTemplate,
      tokenizer,
      { messages, addGenerationPrompt: true },
      { addBos: false },
    );
    let answer = answerIds(chatTemplate, tokenizer, messages, prompt, record.output);
    if (prompt.length >= maxSeqLen) {
      report.skipped.push(index);
      return;
    }
    if (prompt.length + answer.length > maxSeqLen) {
      answer = answer.slice(0, maxSeqLen - prompt.length);
      report.truncated.push(index);
    }
    const ids = Uint32Array.from([...prompt, ...answer]);
    const lossMask = new Uint8Array(ids.length);
    lossMask.fill(1, prompt.length);
    report.examples.push({ ids, lossMask });
  });
  return report;
}

/**
 * Instruction records → training examples (prompt masked out, answer + end of turn trained on).
 * Records whose prompt alone fills `maxSeqLen` are left out; over-long answers are cut
 * (`convertRecords` says which).
 * @throws {TrainExampleError} for a malformed record, `maxSeqLen < 2`, or a vocabulary without EOS.
 * @throws {ChatTemplateError | ChatTemplateRejectedError} when the template fails to render.
 */
export function toTrainExamples(
  records: readonly InstructionRecord[],
  tokenizer: Tokenizer,
  chatTemplate: ChatTemplate,
  maxSeqLen: number,
  options: ExampleOptions = {},
): TrainExample[] {
  return convertRecords(records, tokenizer, chatTemplate, maxSeqLen, options).examples;
}

/**
 * Plain text tokens → one language-modelling example: every token but the first is predicted.
 * @throws {TrainExampleError} for fewer than 2 tokens.
 */
export function textExample(ids: readonly number[]): TrainExample {
  if (ids.length < 2) throw new TrainExampleError(`a text example needs ≥ 2 tokens, got ${ids.length}`);
  const lossMask = new Uint8Array(ids.length);
  lossMask.fill(1, 1);
  return { ids: Uint32Array.from(ids), lossMask };
}

/** Number of trained-on tokens in a set of examples. */
export function maskedTokenCount(examples: readonly TrainExample[]): number {
  let n = 0;
  for (const e of examples) for (const m of e.lossMask) n += m;
  return n;
}
