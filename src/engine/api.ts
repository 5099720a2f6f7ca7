/**
 * The public engine interface. Implemented twice — by the in-worker engine and by the page-side
 * client that talks to the worker — so UI code cannot tell them apart.
 */
import type { DureError } from './errors.ts';
import type { LoraTensors } from '../protocol/adapter-codec.ts';

export type Role = 'system' | 'user' | 'assistant';
export interface ChatMessage {
  role: Role;
  content: string;
}

export interface SamplingOptions {
  /** 0 or `greedy: true` means argmax. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  seed?: number;
  greedy?: boolean;
}

export interface GenerateRequest extends SamplingOptions {
  /** Either chat messages (rendered with the GGUF chat template) or a raw prompt. */
  messages?: ChatMessage[];
  prompt?: string;
  promptIds?: number[];
  maxTokens?: number;
  stop?: string[];
  signal?: AbortSignal;
}

export interface GenerateChunk {
  /** Text decoded so far in this chunk; never contains a broken UTF-8 sequence (U+FFFD). */
  text: string;
  ids: number[];
}

export type FinishReason = 'stop' | 'length' | 'abort' | 'eos';

export interface GenerateResult {
  text: string;
  ids: number[];
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
}

export interface LoadProgress {
  phase: 'download' | 'verify' | 'parse' | 'upload' | 'compile' | 'ready';
  loadedBytes: number;
  totalBytes: number;
}

export interface ModelInfo {
  architecture: string;
  name: string;
  contextLength: number;
  parameters: number;
  quantTypes: string[];
  /** The file's `general.license` (an SPDX id or short name), when it states one. */
  license?: string;
  /** Which path runs: Dure's WGSL engine, or llama.cpp in WebAssembly on the CPU. */
  backend: 'webgpu' | 'wasm-cpu';
  adapter?: string;
}

export interface ChatEngine {
  /** @throws {DureError} subclasses for corrupt files, missing GPU, model too large. */
  load(model: Blob | ArrayBuffer | string, onProgress?: (p: LoadProgress) => void): Promise<ModelInfo>;
  /** Streams chunks; the iterator's return value is the final result. */
  generate(req: GenerateRequest): AsyncGenerator<GenerateChunk, GenerateResult, void>;
  /**
   * How many tokens `messages` take as a prompt, counted as `generate` counts them (the model's
   * tokenizer and chat template), so a caller can fit a conversation into
   * `ModelInfo.contextLength` before sending it. Optional: callers without it must estimate.
   */
  countTokens?(messages: ChatMessage[]): Promise<number>;
  /** Forget the conversation's KV cache. */
  reset(): Promise<void>;
  dispose(): Promise<void>;
  /**
   * Replaces the active LoRA adapters (empty list: the base model) without reloading the base
   * weights; the KV cache is forgotten. Absent on backends that cannot apply adapters.
   * @throws {import('./lora/errors.ts').LoraAdapterError} when an adapter does not fit the model
   *   (nothing changes then).
   */
  setAdapters?(adapters: EngineAdapter[]): Promise<void>;
}

/** A LoRA adapter to apply at inference: y = W·x + scale · (alpha / rank) · B·(A·x). */
export interface EngineAdapter {
  /** Shown to users and in errors (e.g. the registry's adapter id and version). */
  name: string;
  lora: LoraTensors;
  /** Multiplier on alpha / rank (default 1), as llama.cpp's `--lora-scaled`. */
  scale?: number;
}

export type { DureError, LoraTensors };
