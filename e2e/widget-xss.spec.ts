import { expect, test } from '@playwright/test';
import { chat } from './widget-helpers.ts';
import { xssPayloads } from './widget-xss-payloads.ts';

const payloads = xssPayloads();

test(`${payloads.length} XSS / exfiltration payloads in model output: no script runs, no request leaves`, async ({
  page,
  baseURL,
}) => {
  expect(payloads.length).toBeGreaterThanOrEqual(100);
  const origin = new URL(baseURL ?? '').origin;
  const leaked: string[] = [];
  const dialogs: string[] = [];
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('blob:') && !u.startsWith('data:') && new URL(u).origin !== origin) leaked.push(u);
  });
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  // Any code a payload manages to run reports itself here.
  await page.addInitScript(() => {
    const w = window as unknown as { __xssHits: string[]; __xss: (id: string) => void };
    w.__xssHits = [];
    w.__xss = (id) => w.__xssHits.push(id);
  });

  // Model output reaches the screen through the same renderer whether it streams in or is
  // restored from the saved conversation; the saved conversation lets every payload be an answer.
  await page.goto('/demo/?conversation-id=xss');
  await expect(chat(page).locator('.root')).toHaveAttribute('data-phase', 'idle');
  await page.evaluate(async (items) => {
    const db = await new Promise<IDBDatabase>((res, rej) => {
      const r = indexedDB.open('dure-chat', 1);
      r.onupgradeneeded = () => r.result.createObjectStore('conversations', { keyPath: 'key' });
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const messages = items.flatMap((p, i) => [
      { id: `u${i}`, role: 'user', content: `질문 ${p.id}`, at: i },
      { id: `a${i}`, role: 'assistant', content: p.markdown, finish: 'eos', at: i },
    ]);
    await new Promise<void>((res, rej) => {
      const tx = db.transaction('conversations', 'readwrite');
      tx.objectStore('conversations').put({ key: 'xss', messages, updatedAt: Date.now() });
      tx.oncomplete = () => res();
      tx.onerror = () => rej(tx.error);
    });
    db.close();
  }, payloads);
  await page.reload();
  await expect(chat(page).locator('article[data-role=assistant]')).toHaveCount(payloads.length);

  // Give event handlers, lazy loads and refreshes every chance to fire.
  await chat(page).locator('article[data-role=assistant]').last().scrollIntoViewIfNeeded();
  for (const el of await chat(page)
    .locator('.md *')
    .all()
    .then((all) => all.slice(0, 400))) {
    await el.hover({ timeout: 200, force: true }).catch(() => undefined);
  }
  await page.waitForTimeout(1500);

  const audit = await chat(page).evaluate((host) => {
    const root = host.shadowRoot;
    if (!root) throw new Error('no shadow root');
    const bad: string[] = [];
    const forbidden =
      'script,iframe,object,embed,img,picture,source,video,audio,svg,math,style,link,meta,base,form,input:not([type=checkbox]),textarea,select,template,noscript,marquee,details';
    for (const md of root.querySelectorAll('.md')) {
      for (const el of md.querySelectorAll(forbidden)) bad.push(`element <${el.tagName.toLowerCase()}>`);
      for (const el of md.querySelectorAll('*')) {
        for (const a of el.attributes) {
          if (
            a.name.startsWith('on') ||
            a.name === 'style' ||
            a.name === 'srcset' ||
            a.name === 'ping' ||
            a.name === 'src'
          )
            bad.push(`attribute ${a.name} on <${el.tagName.toLowerCase()}>`);
        }
      }
      for (const a of md.querySelectorAll('a')) {
        const href = a.getAttribute('href');
        if (href !== null && !/^(https?:|mailto:)/i.test(href)) bad.push(`link to ${href}`);
        if (href !== null && a.getAttribute('rel') !== 'noopener noreferrer')
          bad.push(`link without rel: ${href}`);
      }
    }
    const links = [...root.querySelectorAll('.md a[href]')].map((a) => ({
      href: a.getAttribute('href') ?? '',
      shown: a.parentElement?.textContent ?? '',
    }));
    return { bad, links };
  });
  const hits = await page.evaluate(() => (window as unknown as { __xssHits: string[] }).__xssHits);
  const resources = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((e) => e.name)
      .filter((n) => n.includes('attacker')),
  );

  expect(hits, 'no payload code ran').toEqual([]);
  expect(dialogs, 'no dialog opened').toEqual([]);
  expect(leaked, 'no request left the page origin').toEqual([]);
  expect(resources).toEqual([]);
  expect(audit.bad).toEqual([]);
  // Links that survive show where they really go.
  expect(audit.links.length).toBeGreaterThan(0);
  for (const l of audit.links) expect(l.shown).toContain(new URL(l.href).host);
});
