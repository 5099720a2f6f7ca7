/**
 * Citizens' labels on answers, kept in this browser's IndexedDB only (issue 17 item 5): nothing
 * here sends anything anywhere. They leave the device only as a file the citizen exports with a
 * click (`exportFeedbackFile`) and hands over themselves. One label per answer (labelling again
 * replaces it); bounded, oldest dropped first.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { FeedbackStoreError } from '../protocol/errors.ts';
import { checkFeedbackRecord, type FeedbackRecord } from '../feedback/record.ts';
import { feedbackFileName, writeFeedbackExport } from '../feedback/export-file.ts';

export interface StoredFeedback {
  /** The answer's message id in the saved conversation. */
  answerId: string;
  conversationKey: string;
  record: FeedbackRecord;
  updatedAt: number;
}

interface FeedbackDb extends DBSchema {
  feedback: { key: string; value: StoredFeedback; indexes: { updatedAt: number } };
}

export const MAX_FEEDBACK = 500;
let lastStamp = 0;

let dbp: Promise<IDBPDatabase<FeedbackDb>> | null = null;
function db(): Promise<IDBPDatabase<FeedbackDb>> {
  dbp ??= openDB<FeedbackDb>('dure-feedback', 1, {
    upgrade(d) {
      d.createObjectStore('feedback', { keyPath: 'answerId' }).createIndex('updatedAt', 'updatedAt');
    },
  });
  // A refused open is tried again next time (private modes may allow it later).
  dbp.catch(() => (dbp = null));
  return dbp;
}

async function guarded<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new FeedbackStoreError(`피드백 저장소 / feedback store: ${what}`, { cause: e });
  }
}

/**
 * Keeps (or replaces) the label on one answer; beyond `max` labels the oldest is dropped.
 * @throws {FeedbackStoreError} when IndexedDB refuses.
 */
export function saveFeedback(
  entry: Omit<StoredFeedback, 'updatedAt'>,
  max: number = MAX_FEEDBACK,
): Promise<void> {
  return guarded('save', async () => {
    const d = await db();
    const tx = d.transaction('feedback', 'readwrite');
    // Strictly increasing within a page, so "oldest" is well defined for labels given in one millisecond.
    lastStamp = Math.max(Date.now(), lastStamp + 1);
    await tx.store.put({ ...entry, updatedAt: lastStamp });
    // Bounded: drop the oldest beyond the cap.
    let over = (await tx.store.count()) - max;
    for (
      let c = await tx.store.index('updatedAt').openCursor();
      c && over > 0;
      c = await c.continue(), over--
    )
      await c.delete();
    await tx.done;
  });
}

/** The labels on one conversation's answers, by answer id. */
export function loadFeedback(conversationKey: string): Promise<Record<string, FeedbackRecord>> {
  return guarded('load', async () => {
    const out: Record<string, FeedbackRecord> = {};
    for (const row of await (await db()).getAll('feedback'))
      if (row.conversationKey === conversationKey && checkFeedbackRecord(row.record))
        out[row.answerId] = row.record;
    return out;
  });
}

export function countFeedback(): Promise<number> {
  return guarded('count', async () => (await db()).count('feedback'));
}

/** Every label on this device, oldest first, as the export file holds them. */
export function allFeedback(): Promise<FeedbackRecord[]> {
  return guarded('read', async () => {
    const rows = await (await db()).getAllFromIndex('feedback', 'updatedAt');
    return rows.map((r) => r.record).filter(checkFeedbackRecord);
  });
}

export function clearFeedback(): Promise<void> {
  return guarded('clear', async () => (await db()).clear('feedback'));
}

/** The export file's name and text (the component turns it into a download on the citizen's click). */
export async function exportFeedbackFile(now: Date = new Date()): Promise<{ name: string; text: string }> {
  return { name: feedbackFileName(now), text: writeFeedbackExport(await allFeedback(), now) };
}
