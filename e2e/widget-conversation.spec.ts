/**
 * The widget over a long conversation and on a phone: the prompt is fitted to a small context
 * (no error after many questions, also after a reload), the log follows new messages, the start
 * button and the progress bar say how big the download is (or that it is not known), the floating
 * panel fits a 320 px screen, and errors reach a Korean page in Korean.
 */
import { readFile } from 'node:fs/promises';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { encodeChat } from '../src/engine/chat-template/index.ts';
import { modelChatTemplate } from '../src/engine/chat-template/fallback.ts';
import { readGguf } from '../src/engine/gguf/reader.ts';
import { MemorySource } from '../src/engine/gguf/sources.ts';
import { createTokenizer } from '../src/engine/tokenizer/index.ts';
import { askAndWait, chat, seedConversation, waitReady } from './widget-helpers.ts';
import { publishWidgetModel, type WidgetModel } from './widget-model.ts';

// Route interception and exact request counts: no service worker in between.
test.use({ serviceWorkers: 'block' });

let model: WidgetModel;
test.beforeAll(async () => {
  model = await publishWidgetModel();
});

const DEMO_GGUF = new URL('../public/models/demo.gguf', import.meta.url);
const demoSha = async () =>
  (
    JSON.parse(await readFile(new URL('../public/models/demo.json', import.meta.url), 'utf8')) as {
      sha256: string;
    }
  ).sha256;

/** Prompt tokens of `messages` with the demo model's own tokenizer and chat template. */
async function demoTokenCounter(): Promise<(m: { role: string; content: string }[]) => number> {
  const file = await readGguf(new MemorySource(new Uint8Array(await readFile(DEMO_GGUF))));
  const tokenizer = createTokenizer(file.metadata);
  const template = modelChatTemplate(file.metadata);
  return (messages) =>
    encodeChat(
      template,
      tokenizer,
      { messages: messages as { role: 'user'; content: string }[] },
      { addBos: false },
    ).length;
}

/** Rows written as an older version of the widget stored them (a failed turn included). */
async function seedRaw(page: Page, key: string, rows: Record<string, unknown>[]): Promise<void> {
  await page.evaluate(
    async ({ key, rows }) => {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open('dure-chat', 1);
        r.onupgradeneeded = () => r.result.createObjectStore('conversations', { keyPath: 'key' });
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      await new Promise<void>((res, rej) => {
        const tx = db.transaction('conversations', 'readwrite');
        tx.objectStore('conversations').put({ key, messages: rows, updatedAt: Date.now() });
        tx.oncomplete = () => res();
        tx.onerror = () => rej(tx.error);
      });
      db.close();
    },
    { key, rows },
  );
}

/** The widget test model as the preview server holds it. */
const DIST_MODEL = new URL(
  `../${process.env['DURE_E2E_OUTDIR'] ?? 'dist'}/models/widget-test.gguf`,
  import.meta.url,
);

interface ProgressState {
  text: string;
  value: string | null;
}

/** Records every progress state the widget shows from now on (a download is quick here). */
async function recordProgress(page: Page): Promise<void> {
  await chat(page).evaluate((host) => {
    const root = host.shadowRoot as ShadowRoot;
    const seen: { text: string; value: string | null }[] = [];
    (window as unknown as { progressSeen: typeof seen }).progressSeen = seen;
    new MutationObserver(() => {
      const bar = root.querySelector('.progress progress');
      const text = root.querySelector('.progress-text') as HTMLElement | null;
      if (bar && text) seen.push({ text: text.innerText, value: bar.getAttribute('value') });
    }).observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

const progressSeen = (page: Page): Promise<ProgressState[]> =>
  page.evaluate(() => (window as unknown as { progressSeen: ProgressState[] }).progressSeen);

/** WCAG 2.1 AA violations axe-core finds on the page (the widget's new states included). */
async function axe(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** How far the log is from its end (0: the newest message is in view). */
const logGap = (page: Page) =>
  chat(page)
    .getByRole('log')
    .evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);

const QUESTIONS = [
  '전입신고는 이사한 날부터 며칠 안에 해야 하고, 어디에서 신청할 수 있나요?',
  '여권을 잃어버렸을 때 다시 발급받으려면 어떤 서류가 필요한가요?',
  '주민등록등본을 온라인으로 발급받는 방법을 자세히 알려 주세요.',
  '기초연금은 누가 받을 수 있고, 신청은 어디에서 하나요?',
  '자동차 등록증을 잃어버렸는데 재발급은 어떻게 하나요?',
  '출생신고를 할 때 필요한 서류와 기한을 알려 주세요.',
  '인감증명서를 대신 발급받으려면 위임장이 필요한가요?',
  '건강보험 자격득실 확인서는 어디에서 뽑을 수 있나요?',
  '대형 폐기물은 어떻게 신고하고 수수료는 얼마인가요?',
  '청년 월세 지원은 어떤 조건에서 신청할 수 있나요?',
];

test('ten questions in a 512-token context: the prompt is fitted, no error, a stored failed turn is not resent, also after reload', async ({
  page,
}) => {
  test.setTimeout(400_000);
  const count = await demoTokenCounter();
  const key = 'long-conversation';
  await page.goto('/demo/?conversation-id=seed-only');
  // What an older version left behind: a question whose answer failed, stored as an empty answer;
  // then seven answered questions of an earlier visit (stored as the widget stores them), so the
  // three asked live below meet a history that no longer fits the context.
  const earlier = QUESTIONS.slice(0, 7).flatMap((q, i) => [
    { id: `e${i}q`, role: 'user', content: q, at: 10 + 2 * i },
    {
      id: `e${i}a`,
      role: 'assistant',
      content: `${q.split(' ')[0]} 관련 안내입니다. 가까운 행정복지센터를 방문하거나 정부24에서 온라인으로 신청할 수 있습니다. 신분증을 꼭 가져오시고, 처리에는 보통 3일이 걸리며 수수료는 없습니다.`,
      finish: 'eos',
      at: 11 + 2 * i,
    },
  ]);
  await seedRaw(page, key, [
    { id: 'o1', role: 'user', content: '예전 질문: 전입신고 기한은?', at: 1 },
    { id: 'o2', role: 'assistant', content: '', finish: 'error', at: 2 },
    ...earlier,
  ]);
  // The WebGPU engine runs the demo model with its own 512-token context; greedy, short answers.
  await page.goto(
    `/demo/?kb=&model=/models/demo.gguf&sha256=${await demoSha()}&backend=webgpu&autoload=1&max-tokens=24&temperature=0&conversation-id=${key}`,
  );
  await waitReady(page, 120_000);
  await expect(chat(page).locator('.backend')).toHaveAttribute('data-backend', 'webgpu');
  // The old failed answer is not shown as an empty bubble.
  await expect(chat(page).locator('article[data-role=assistant]')).toHaveCount(7);
  await expect(chat(page).locator('article[data-role=user]')).toHaveCount(8);

  for (const [i, q] of QUESTIONS.slice(7).entries()) {
    const answer = await askAndWait(page, q);
    await expect(answer, `answer ${i + 1}`).toHaveAttribute('data-finish', /^(eos|length|stop)$/);
    await expect(chat(page).locator('.error')).toHaveCount(0);
    expect(await answer.locator('.md').innerText()).not.toMatch(/\uFFFD$/);
  }
  await expect(chat(page).locator('article[data-role=assistant]')).toHaveCount(10);

  const systemPrompt = (await chat(page).getAttribute('system-prompt')) ?? '';
  const shown = await chat(page)
    .locator('article')
    .evaluateAll((els) =>
      els.map((el) => ({
        role: el.getAttribute('data-role') ?? '',
        content: (el.querySelector('.md, .text') as HTMLElement).innerText,
      })),
    );
  // The tenth question's prompt, had the whole history been resent, would not fit the context
  // (the engine refuses a prompt of 512 tokens or more).
  const untrimmed = count([{ role: 'system', content: systemPrompt }, ...shown.slice(0, -1)]);
  expect(untrimmed).toBeGreaterThanOrEqual(512);

  // After a reload the conversation is restored and the next question is still answered.
  await page.reload();
  await waitReady(page, 120_000);
  await expect(chat(page).locator('article[data-role=assistant]')).toHaveCount(10);
  const eleventh = await askAndWait(page, '마지막으로, 민원 처리 결과는 어디에서 확인하나요?');
  await expect(eleventh).toHaveAttribute('data-finish', /^(eos|length|stop)$/);
  await expect(chat(page).locator('.error')).toHaveCount(0);
});

test('the log follows new messages, a restored history opens at its end, scrolling up stops the following', async ({
  page,
}) => {
  const key = 'scroll';
  await page.goto('/demo/?conversation-id=seed-only');
  const long =
    '전입신고는 이사한 날부터 14일 이내에 가까운 행정복지센터나 정부24에서 할 수 있습니다. '.repeat(4);
  await seedConversation(
    page,
    key,
    Array.from({ length: 12 }, (_, i) => [
      { role: 'user' as const, content: `${i + 1}번째 질문입니다.` },
      { role: 'assistant' as const, content: `${i + 1}번째 답변: ${long}` },
    ]).flat(),
  );
  await page.goto(
    `/demo/?kb=&model=${model.url}&sha256=${model.sha256}&backend=webgpu&autoload=1&max-tokens=8&temperature=0&conversation-id=${key}`,
  );
  await expect(chat(page).locator('article')).toHaveCount(24);
  const log = chat(page).getByRole('log');
  expect(await log.evaluate((el) => el.scrollHeight > el.clientHeight * 2)).toBe(true);
  await expect.poll(() => logGap(page)).toBeLessThan(2);
  await waitReady(page);

  // A new question and its answer: both in view without scrolling.
  await askAndWait(page, '새 질문: 여권 발급 수수료는?');
  await expect.poll(() => logGap(page)).toBeLessThan(2);
  const last = chat(page).locator('article').last();
  const inView = () =>
    last.evaluate((el) => {
      const box = el.getBoundingClientRect();
      const frame = (el.closest('[role=log]') as HTMLElement).getBoundingClientRect();
      return box.bottom <= frame.bottom + 1 && box.bottom > frame.top;
    });
  expect(await inView()).toBe(true);

  // The log shrinks (as when a phone's keyboard opens under a floating panel) and grows back: it
  // stays at its end and keeps following the next answer (the browser keeps or clamps the scroll
  // position, which must not read as the citizen scrolling up).
  const logHeight = () => log.evaluate((el) => el.clientHeight);
  const tall = await logHeight();
  await log.evaluate((el, h) => (el.style.maxHeight = `${h}px`), Math.round(tall / 2));
  await expect.poll(logHeight).toBeLessThan(tall);
  await expect.poll(() => logGap(page)).toBeLessThan(2);
  await log.evaluate((el) => (el.style.maxHeight = ''));
  await expect.poll(logHeight).toBe(tall);
  await expect.poll(() => logGap(page)).toBeLessThan(2);
  await askAndWait(page, '또 질문: 여권 재발급은 어디서 하나요?');
  await expect.poll(() => logGap(page)).toBeLessThan(2);

  // Reading back while an answer is written: the log stays where the citizen put it.
  await chat(page).evaluate((el) => el.setAttribute('max-tokens', '120'));
  const box = chat(page).getByRole('textbox');
  await box.fill('아주 긴 답을 주세요. 서류와 절차를 모두 알려 주세요.');
  await box.press('Enter');
  const answer = chat(page).locator('article[data-role=assistant]').last();
  await expect(answer.locator('.md')).not.toBeEmpty({ timeout: 60_000 });
  await log.evaluate((el) => el.scrollTo({ top: 0 }));
  const heightThen = await log.evaluate((el) => el.scrollHeight);
  const textThen = (await answer.locator('.md').innerText()).length;
  await expect(answer).not.toHaveAttribute('data-finish', '', { timeout: 90_000 });
  expect(
    (await answer.locator('.md').innerText()).length,
    'the answer grew after scrolling up',
  ).toBeGreaterThan(textThen);
  expect(await log.evaluate((el) => el.scrollHeight)).toBeGreaterThan(heightThen);
  expect(await log.evaluate((el) => el.scrollTop)).toBeLessThan(2);
});

test('the start button says how big the download is (size attribute, HEAD); unknown length shows indeterminate progress', async ({
  page,
  context,
}) => {
  test.setTimeout(240_000);
  // 1. HEAD answers with the length: the button says it before anything is downloaded.
  await page.goto(`/demo/?kb=&model=${model.url}&sha256=${model.sha256}&conversation-id=size-head`);
  const start = chat(page).getByRole('button', { name: /AI 상담 시작/ });
  await expect(start).toHaveText('AI 상담 시작 (모델 내려받기, 3.5 MB)');
  // The portal's `size` attribute wins (no request needed).
  await chat(page).evaluate((el) => el.setAttribute('size', String(4.2 * 1048576)));
  await expect(start).toHaveText('AI 상담 시작 (모델 내려받기, 4.2 MB)');

  // 2. A server that compresses sends no Content-Length: neither HEAD nor GET says the total.
  const nolength = await publishWidgetModel('widget-nolength.gguf');
  const cdp = await context.newCDPSession(page);
  await cdp.send('Fetch.enable', {
    // fetch() only: the page's own address names the model too.
    patterns: [{ urlPattern: '*/models/widget-nolength*', resourceType: 'Fetch', requestStage: 'Request' }],
  });
  const served: string[] = [];
  const bodies = new Map<string, string>();
  cdp.on('Fetch.requestPaused', (e: { requestId: string; request: { method: string; url: string } }) => {
    served.push(e.request.method);
    const body = bodies.get(new URL(e.request.url).pathname) ?? '';
    void cdp.send('Fetch.fulfillRequest', {
      requestId: e.requestId,
      responseCode: 200,
      // No Content-Length, as a compressing server answers (chunked).
      responseHeaders: [{ name: 'Content-Type', value: 'application/octet-stream' }],
      ...(e.request.method === 'HEAD' ? {} : { body }),
    });
  });
  const modelBytes = (await readFile(DIST_MODEL)).toString('base64');
  bodies.set(nolength.url, modelBytes);
  bodies.set('/models/widget-nolength-sized.gguf', modelBytes);
  await page.goto(`/demo/?kb=&model=${nolength.url}&sha256=${nolength.sha256}&conversation-id=size-none`);
  await expect.poll(() => served.includes('HEAD')).toBe(true);
  await expect(start).toHaveText('AI 상담 시작 (모델 내려받기)');
  await recordProgress(page);
  await start.click();
  await waitReady(page);
  const seen = await progressSeen(page);
  // While bytes arrive: an indeterminate bar and the bytes received, never "x / 0 B (0%)". Once
  // all is in (verification), the size is known.
  const during = seen.filter((p) => p.value === null);
  expect(during.length).toBeGreaterThan(0);
  for (const p of seen) {
    expect(p.text).not.toContain('/ 0 B');
    if (p.value === null) {
      expect(p.text).toMatch(/^\d+(\.\d)? (B|KB|MB) 받음 · 속도/);
      expect(p.text).not.toMatch(/ \/ |%/);
    } else expect(p.text).toMatch(/^3\.5 MB \/ 3\.5 MB \(100%\)/);
  }

  // 3. Same server, but the portal states the size: a real percentage again.
  const sized = await publishWidgetModel('widget-nolength-sized.gguf');
  await page.goto(`/demo/?kb=&model=${sized.url}&sha256=${sized.sha256}&conversation-id=size-stated`);
  await chat(page).evaluate((el, bytes) => el.setAttribute('size', String(bytes)), sized.bytes);
  await expect(start).toHaveText('AI 상담 시작 (모델 내려받기, 3.5 MB)');
  await recordProgress(page);
  await start.click();
  await waitReady(page);
  const stated = await progressSeen(page);
  expect(stated.length).toBeGreaterThan(0);
  for (const s of stated) {
    expect(s.value, s.text).not.toBeNull();
    expect(s.text).toMatch(/ \/ 3\.5 MB \(\d+%\)/);
  }
});

test('phones: the floating panel fits 320, 360 and 390 px wide screens', async ({ page }, testInfo) => {
  const key = 'phone';
  await page.setViewportSize({ width: 320, height: 640 });
  await page.goto('/demo/?conversation-id=seed-only');
  await seedConversation(page, key, [
    {
      role: 'user',
      content:
        '전입신고는 어디에서 하나요? 주소는 https://www.gov.kr/portal/service/serviceInfo/PTR000050232 인가요?',
    },
    {
      role: 'assistant',
      content:
        '전입신고는 **이사한 날부터 14일 이내**에 하면 됩니다.\n\n1. 가까운 행정복지센터 방문\n2. [정부24](https://www.gov.kr/portal/service/serviceInfo/PTR000050232) 온라인 신청\n\n준비물: `신분증`, 임대차계약서(확정일자용)',
    },
  ]);
  await page.goto(
    `/demo/?kb=&model=${model.url}&sha256=${model.sha256}&position=floating&max-tokens=8&conversation-id=${key}`,
  );
  await chat(page).getByRole('button', { name: 'AI 상담 열기' }).click();
  await expect(chat(page).getByRole('button', { name: /AI 상담 시작/ })).toContainText('3.5 MB');

  /** Every widget box that sticks out of the viewport (left < 0 or right > its width). */
  const overflow = () =>
    chat(page).evaluate((host) => {
      const width = document.documentElement.clientWidth;
      const out: string[] = [];
      for (const el of (host.shadowRoot as ShadowRoot).querySelectorAll('*')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.left < -0.5 || r.right > width + 0.5)
          out.push(
            `${el.tagName.toLowerCase()}.${el.className} [${r.left.toFixed(1)}, ${r.right.toFixed(1)}] > ${width}`,
          );
      }
      const panel = (host.shadowRoot as ShadowRoot).querySelector('.panel') as HTMLElement;
      if (panel.scrollWidth > panel.clientWidth)
        out.push(`panel scrolls sideways: ${panel.scrollWidth} > ${panel.clientWidth}`);
      return out;
    });
  expect(await overflow(), 'idle, 320 px').toEqual([]);

  await chat(page)
    .getByRole('button', { name: /AI 상담 시작/ })
    .click();
  await waitReady(page);
  await expect(chat(page).locator('article')).toHaveCount(2);
  await chat(page).getByText('저장된 모델', { exact: true }).click();
  for (const width of [320, 360, 390]) {
    await page.setViewportSize({ width, height: 700 });
    expect(await overflow(), `ready, ${width} px`).toEqual([]);
    const panel = await chat(page).locator('.panel').boundingBox();
    expect(panel?.x).toBeGreaterThanOrEqual(0);
  }

  // At 320 px, once the backend line is shown ("auto" measured both paths, so its reason is the
  // longest there is), the line stays short and the message log keeps most of the panel: the
  // reason used to wrap over 5 lines and leave the log a quarter of the panel.
  await page.setViewportSize({ width: 320, height: 640 });
  await expect(chat(page).locator('.backend')).toHaveAttribute('data-backend', /webgpu|wasm-cpu/);
  for (const lang of ['ko', 'en'] as const) {
    await chat(page).evaluate((el, l) => el.setAttribute('lang', l), lang);
    await expect(chat(page).locator('.root')).toHaveAttribute('lang', lang);
    const m = await chat(page).evaluate((host) => {
      const root = host.shadowRoot as ShadowRoot;
      // As the panel opens: scrolled to its top (the stored models were opened further down).
      (root.querySelector('.panel') as HTMLElement).scrollTop = 0;
      const box = (sel: string) => (root.querySelector(sel) as HTMLElement).getBoundingClientRect();
      // Visual lines of the backend line: its rendered text boxes (folded text has none), those
      // that overlap vertically counted as one line (a smaller font on the same line sits lower).
      const line = root.querySelector('.backend') as HTMLElement;
      const rects: DOMRect[] = [];
      const walk = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        if (!n.parentElement?.checkVisibility() || !n.textContent?.trim()) continue;
        const range = document.createRange();
        range.selectNodeContents(n);
        rects.push(...[...range.getClientRects()].filter((r) => r.width > 0));
      }
      rects.sort((a, b) => a.top - b.top);
      let lines = 0;
      let bottom = -Infinity;
      for (const r of rects) {
        if (r.top >= bottom - 2) lines++;
        bottom = Math.max(r.top >= bottom - 2 ? r.bottom : bottom, r.bottom);
      }
      return {
        log: box('.log').height,
        panel: box('.panel').height,
        // How far the box to type in reaches below the panel's visible part (≤ 0: seen at once).
        composerBelow: box('textarea').bottom - box('.panel').bottom,
        // Whether the placeholder, typed into the empty box, fits it without scrolling.
        placeholderFits: (() => {
          const ta = root.querySelector('textarea') as HTMLTextAreaElement;
          ta.value = ta.placeholder;
          const fits = ta.scrollHeight <= ta.clientHeight;
          ta.value = '';
          return fits;
        })(),
        lines,
      };
    });
    testInfo.annotations.push({
      type: `320 px, ${lang}`,
      description: `log ${m.log.toFixed(0)} of panel ${m.panel.toFixed(0)} px, backend line ${m.lines} lines, textarea ${m.composerBelow.toFixed(0)} px below the panel`,
    });
    await page.screenshot({ path: testInfo.outputPath(`phone-320-${lang}.png`) });
    expect.soft(m.lines, `backend line, ${lang}`).toBeLessThanOrEqual(2);
    expect.soft(m.log / m.panel, `log share of the panel, ${lang}`).toBeGreaterThanOrEqual(0.5);
    expect.soft(m.composerBelow, `the box to type in is seen at once, ${lang}`).toBeLessThanOrEqual(0);
    expect.soft(m.placeholderFits, `the placeholder fits the box, ${lang}`).toBe(true);
    expect(await overflow(), `ready, 320 px, ${lang}`).toEqual([]);
  }
  // The folded reason opens from the keyboard, says why without naming the path again, and folds.
  await chat(page).evaluate((el) => el.setAttribute('lang', 'ko'));
  const reason = chat(page).locator('.backend .reason');
  await expect(reason).toBeHidden();
  await chat(page).locator('.backend summary').focus();
  await page.keyboard.press('Enter');
  await expect(reason).toBeVisible();
  await expect(reason).not.toContainText('CPU(WebAssembly)');
  await page.screenshot({ path: testInfo.outputPath('phone-320-ko-reason.png') });
  expect(await overflow(), 'reason open, 320 px').toEqual([]);
  await page.keyboard.press('Enter');
  await expect(reason).toBeHidden();
});

test('errors reach a Korean page in Korean (download 404, wrong SHA-256, context overflow); the technical detail stays folded', async ({
  page,
}) => {
  const koreanOnly = async () => {
    const alert = chat(page).getByRole('alert');
    await expect(alert).toBeVisible({ timeout: 90_000 });
    const visible = await alert.innerText();
    expect(visible, visible).not.toMatch(/[A-Za-z]/);
    expect(visible).toContain('문제가 생겼습니다');
    const detail = alert.locator('details');
    await expect(detail).not.toHaveAttribute('open', '');
    return { alert, visible, detail };
  };

  // A model URL that answers 404 (the preview server would answer its HTML page instead).
  await page.route('**/models/missing-model.gguf', (r) => r.fulfill({ status: 404, body: 'Not Found' }));
  await page.goto('/demo/?model=/models/missing-model.gguf&conversation-id=err-404');
  await chat(page)
    .getByRole('button', { name: /AI 상담 시작/ })
    .click();
  const missing = await koreanOnly();
  expect(missing.visible).toContain('모델을 내려받지 못했습니다');
  await expect(missing.alert).toHaveAttribute('data-code', 'MODEL_DOWNLOAD');
  // The detail is there for the portal's staff, folded away.
  await missing.detail.locator('summary').click();
  await expect(missing.detail).toContainText('404');
  expect(await axe(page)).toEqual([]);

  // A wrong SHA-256: the integrity error, in Korean only (its message had both languages at once).
  await page.goto(
    `/demo/?kb=&model=${model.url}&sha256=${'ab'.repeat(32)}&backend=webgpu&conversation-id=err-sha`,
  );
  await chat(page)
    .getByRole('button', { name: /AI 상담 시작/ })
    .click();
  const corrupt = await koreanOnly();
  await expect(corrupt.alert).toHaveAttribute('data-code', 'MODEL_INTEGRITY');
  expect(corrupt.visible).toContain('손상');

  // The engine's context error (a question longer than the 512-token context): Korean, and the
  // question goes back into the box to be shortened.
  await chat(page).evaluate((el, sha) => el.setAttribute('sha256', sha), model.sha256);
  await chat(page).getByRole('button', { name: '다시 시도' }).click();
  await waitReady(page);
  const tooLong = '전입신고 서류를 알려 주세요. '.repeat(150).slice(0, 3900);
  const box = chat(page).getByRole('textbox');
  await box.fill(tooLong);
  await box.press('Enter');
  const overflow = await koreanOnly();
  await expect(overflow.alert).toHaveAttribute('data-code', 'CONTEXT_OVERFLOW');
  expect(overflow.visible).toContain('질문이 너무 길어');
  expect((await box.inputValue()) === tooLong.trim(), 'the question is back in the box').toBe(true);
  await expect(chat(page).locator('article')).toHaveCount(0);
});

test('a question typed before the download starts the download and is answered when the model is ready', async ({
  page,
}) => {
  await page.goto(`/demo/?kb=&model=${model.url}&sha256=${model.sha256}&max-tokens=6&conversation-id=early`);
  const box = chat(page).getByRole('textbox');
  await box.fill('모델을 받기 전에 물어봐도 되나요?');
  await expect(chat(page).getByRole('button', { name: '보내기' })).toBeEnabled();
  await box.press('Enter');
  const queued = chat(page).locator('[data-queued]');
  await expect(queued).toContainText('모델을 받기 전에 물어봐도 되나요?');
  await expect(queued).toContainText(/모델을 내려받아야 합니다|모델이 준비되면/);
  await expect(box).toHaveValue('');
  expect(await axe(page)).toEqual([]);
  await waitReady(page);
  const answer = chat(page).locator('article[data-role=assistant]').first();
  await expect(answer).not.toHaveAttribute('data-finish', '', { timeout: 90_000 });
  await expect(chat(page).locator('article[data-role=user]')).toHaveText(
    /모델을 받기 전에 물어봐도 되나요\?/,
  );
  await expect(queued).toHaveCount(0);
});
