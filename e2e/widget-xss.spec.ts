import { expect, test } from '@playwright/test';
import { makeKnowledgeBase, serializeKnowledgeBase } from '../src/knowledge/kb-file.ts';
import { askAndWait, chat } from './widget-helpers.ts';
import { publishWidgetModel } from './widget-model.ts';
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
    // Citations are knowledge-base text: every payload also arrives as a source's title, section
    // and URL (a javascript: URL must not become a link; an attacker's http URL shows its host).
    const messages = items.flatMap((p, i) => [
      { id: `u${i}`, role: 'user', content: `질문 ${p.id}`, at: i },
      {
        id: `a${i}`,
        role: 'assistant',
        content: p.markdown,
        finish: 'eos',
        at: i,
        citations: [
          {
            n: 1,
            source: `${p.id}.md`,
            title: p.markdown,
            section: p.markdown,
            url: `javascript:__xss('${p.id}-url')`,
            effectiveDate: p.markdown,
          },
          { n: 2, source: `${p.id}.md`, title: p.markdown, section: 's', url: p.markdown },
          { n: 3, source: `${p.id}.md`, title: 't', section: 's', url: `http://attacker.example/${p.id}` },
        ],
      },
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
  await expect(chat(page).locator('[data-testid=citations] li')).toHaveCount(payloads.length * 3);

  // Give event handlers, lazy loads and refreshes every chance to fire: pointer, focus and
  // animation events dispatched on every rendered element in one pass (an inline handler fires on
  // these as on real ones), and real pointer hovers on the first few.
  await chat(page).locator('article[data-role=assistant]').last().scrollIntoViewIfNeeded();
  const fired = await chat(page).evaluate((host) => {
    const types = [
      'mouseover',
      'mouseenter',
      'mousemove',
      'pointerover',
      'focus',
      'click',
      'animationstart',
      'load',
      'error',
    ];
    let n = 0;
    for (const el of host.shadowRoot!.querySelectorAll('.md *')) {
      for (const type of types) {
        // A click on a link would navigate the test page away; its href is audited below instead.
        if (type === 'click' && el.closest('a')) continue;
        el.dispatchEvent(new Event(type, { bubbles: true, cancelable: true }));
      }
      n++;
    }
    return n;
  });
  expect(fired).toBeGreaterThan(payloads.length);
  for (const el of await chat(page)
    .locator('.md *')
    .all()
    .then((all) => all.slice(0, 30))) {
    await el.hover({ timeout: 200, force: true }).catch(() => undefined);
  }
  await page.waitForTimeout(1000);

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

test('XSS payloads in the knowledge base itself (titles, sections, URLs, passage text) stay text', async ({
  page,
  baseURL,
}) => {
  const origin = new URL(baseURL ?? '').origin;
  const model = await publishWidgetModel();
  const leaked: string[] = [];
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('blob:') && !u.startsWith('data:') && new URL(u).origin !== origin) leaked.push(u);
  });
  await page.addInitScript(() => {
    const w = window as unknown as { __xssHits: string[]; __xss: (id: string) => void };
    w.__xssHits = [];
    w.__xss = (id) => w.__xssHits.push(id);
  });
  // A served kb.json (valid hash: the attacker controls the documents, not the transport).
  const words = ['알파', '베타', '감마'];
  const picked = payloads.filter((_, i) => i % Math.ceil(payloads.length / words.length) === 0);
  const kb = makeKnowledgeBase(
    words.map((w, i) => {
      const p = picked[i]!;
      return {
        id: `${p.id}.md#0`,
        source: `${p.id}.md`,
        title: `${w} ${p.markdown}`.slice(0, 1000),
        section: p.markdown.slice(0, 1000),
        headings: [w],
        text: `${w} 민원 신청 방법 안내입니다. ${p.markdown}`.slice(0, 3000),
        url: i === 0 ? `javascript:__xss('${p.id}-kb')` : p.markdown.slice(0, 1000),
        effective_date: '2025-01-01',
      };
    }),
  );
  await page.route('**/demo/kb.json', (route) =>
    route.fulfill({ body: serializeKnowledgeBase(kb), contentType: 'application/json' }),
  );
  await page.goto(
    `/demo/?model=${model.url}&sha256=${model.sha256}&max-tokens=4&temperature=0&conversation-id=xss-kb`,
  );
  for (const w of words) {
    const answer = await askAndWait(page, `${w} 민원 신청 방법 알려주세요`);
    // The model may cite more than one; at least the retrieved passage is shown.
    await expect(answer.locator('[data-testid=citations] li').first()).toBeVisible();
  }
  await page.waitForTimeout(500);
  const audit = await chat(page).evaluate((host) => {
    const root = host.shadowRoot!;
    const bad: string[] = [];
    for (const el of root.querySelectorAll('[data-testid=citations] *')) {
      if (/^(script|iframe|img|svg|style|object|embed|form|input|textarea)$/i.test(el.tagName))
        bad.push(`element <${el.tagName.toLowerCase()}>`);
      for (const a of el.attributes) if (a.name.startsWith('on') || a.name === 'style') bad.push(a.name);
    }
    for (const a of root.querySelectorAll('[data-testid=citations] a')) {
      const href = a.getAttribute('href') ?? '';
      if (!/^(https?:|mailto:)/i.test(href)) bad.push(`link to ${href}`);
    }
    return bad;
  });
  expect(audit).toEqual([]);
  expect(await page.evaluate(() => (window as unknown as { __xssHits: string[] }).__xssHits)).toEqual([]);
  expect(leaked).toEqual([]);
});
