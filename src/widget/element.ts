/**
 * The `<dure-chat>` element's types, for pages and apps that script it (`import 'dure'` defines it):
 * its methods, its events (they bubble out of the shadow root), and its place in
 * `document.querySelector('dure-chat')`'s return type. Attributes are listed in README.
 */
import type { Citation, RefusalReason } from '../answer/grounded-answer.ts';
import type { DureProgress } from '../sdk/runtime.ts';

export interface DureReadyDetail {
  backend: 'webgpu' | 'wasm-cpu';
  /** Why this path runs, for the citizen. */
  reason: { ko: string; en: string };
  /** The model came from the browser's storage, not the network. */
  fromCache: boolean;
}

export interface DureMessageDetail {
  role: 'assistant';
  content: string;
  finish: string;
  /** The knowledge-base sections the answer cites (empty when not grounded or refused). */
  citations: Citation[];
  /** The content is a fixed message (out of scope, refused, help line), not the model's answer. */
  refused: boolean;
  refusal_reason: RefusalReason | null;
}

export interface DureErrorDetail {
  name: string;
  code: string;
  message: string;
}

export interface DureChatEventMap extends HTMLElementEventMap {
  'dure-ready': CustomEvent<DureReadyDetail>;
  'dure-progress': CustomEvent<DureProgress>;
  'dure-message': CustomEvent<DureMessageDetail>;
  'dure-error': CustomEvent<DureErrorDetail>;
}

export interface DureChatElement extends HTMLElement {
  /** Sends `text` as the citizen's next message; false when nothing was sent (busy, or a PII prompt). */
  ask(text: string): Promise<boolean>;
  /** Stops any answer and clears the conversation and its saved history. */
  reset(): Promise<void>;
  addEventListener<K extends keyof DureChatEventMap>(
    type: K,
    listener: (this: DureChatElement, ev: DureChatEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'dure-chat': DureChatElement;
  }
}

/** The element's tag name. */
export const DURE_CHAT_TAG = 'dure-chat';
