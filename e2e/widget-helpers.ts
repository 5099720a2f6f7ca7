/** Shared steps for the widget's end-to-end specs (real Chromium, real engine, real model). */
import { expect, type Locator, type Page } from '@playwright/test';

export const chat = (page: Page): Locator => page.locator('dure-chat');

export function phase(page: Page): Promise<string | null> {
  return chat(page).locator('.root').getAttribute('data-phase');
}

/** Every request the page makes that is not to the preview server's own origin. */
export function watchForeignRequests(page: Page, origin: string): string[] {
  const foreign: string[] = [];
  page.on('request', (r) => {
    const u = r.url();
    // blob: and data: URLs are created by the page itself (wllama's worker); they leave nothing.
    if (u.startsWith('blob:') || u.startsWith('data:')) return;
    if (new URL(u).origin !== origin) foreign.push(u);
  });
  return foreign;
}

export async function waitReady(page: Page, timeout = 90_000): Promise<void> {
  await expect(chat(page).locator('.root')).toHaveAttribute('data-phase', /ready|error/, { timeout });
  const err = chat(page).locator('.error');
  if (await err.count()) throw new Error(`widget error: ${await err.innerText()}`);
}

/** Types like a citizen and presses Enter; waits for the answer to finish. */
export async function askAndWait(page: Page, text: string): Promise<Locator> {
  const before = await chat(page).locator('article[data-role=assistant]').count();
  const box = chat(page).getByRole('textbox');
  await box.fill(text);
  await box.press('Enter');
  const answer = chat(page).locator('article[data-role=assistant]').nth(before);
  await expect(answer).not.toHaveAttribute('data-finish', '', { timeout: 90_000 });
  return answer;
}

export interface SeedMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** Writes a saved conversation straight into the widget's IndexedDB (as a previous visit would). */
export async function seedConversation(page: Page, key: string, messages: SeedMessage[]): Promise<void> {
  await page.evaluate(
    async ({ key, messages }) => {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open('dure-chat', 1);
        r.onupgradeneeded = () => r.result.createObjectStore('conversations', { keyPath: 'key' });
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const rows = messages.map((m, i) => ({
        id: `s${i}`,
        ...m,
        finish: m.role === 'assistant' ? 'eos' : undefined,
        at: i,
      }));
      await new Promise<void>((res, rej) => {
        const tx = db.transaction('conversations', 'readwrite');
        tx.objectStore('conversations').put({ key, messages: rows, updatedAt: Date.now() });
        tx.oncomplete = () => res();
        tx.onerror = () => rej(tx.error);
      });
      db.close();
    },
    { key, messages },
  );
}
