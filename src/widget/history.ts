/**
 * Conversations survive reloads in IndexedDB, per conversation key, on the
 * citizen's device only. Bounded: old turns beyond `MAX_MESSAGES` are dropped.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { Citation, RefusalReason } from '../answer/grounded-answer.ts';

export interface StoredMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  /** Assistant turns: how the answer ended. */
  finish?: 'stop' | 'length' | 'abort' | 'eos' | 'error';
  at: number;
  /** Grounded answers: the sources, shown under the answer (URLs absolute, still unchecked). */
  citations?: Citation[];
  /** The answer is a fixed message (out of scope, refused, help line), not the model's. */
  refused?: boolean;
  refusalReason?: RefusalReason | null;
}

interface ChatDb extends DBSchema {
  conversations: { key: string; value: { key: string; messages: StoredMessage[]; updatedAt: number } };
}

export const MAX_MESSAGES = 200;
const MAX_CONTENT = 32_000;

let dbp: Promise<IDBPDatabase<ChatDb>> | null = null;
function db(): Promise<IDBPDatabase<ChatDb>> {
  dbp ??= openDB<ChatDb>('dure-chat', 1, {
    upgrade(d) {
      d.createObjectStore('conversations', { keyPath: 'key' });
    },
  });
  return dbp;
}

/**
 * Leaves out answers that failed before saying anything. Earlier versions stored a failed turn
 * as an empty answer marked `error`; shown, it is an empty bubble, and resent, it made every later
 * question fail. The question itself stays (the citizen asked it); prompt-fit.ts never resends it.
 */
export function dropFailedAnswers(messages: readonly StoredMessage[]): StoredMessage[] {
  return messages.filter((m) => !(m.role === 'assistant' && m.finish === 'error' && m.content.trim() === ''));
}

export async function loadConversation(key: string): Promise<StoredMessage[]> {
  const row = await (await db()).get('conversations', key);
  return dropFailedAnswers(row?.messages ?? []);
}

export async function saveConversation(key: string, messages: readonly StoredMessage[]): Promise<void> {
  const bounded = dropFailedAnswers(messages)
    .slice(-MAX_MESSAGES)
    .map((m) => ({ ...m, content: m.content.slice(0, MAX_CONTENT) }));
  await (await db()).put('conversations', { key, messages: bounded, updatedAt: Date.now() });
}

export async function clearConversation(key: string): Promise<void> {
  await (await db()).delete('conversations', key);
}
