import { expect, test } from '@playwright/test';
import { askAndWait, chat, waitReady, watchForeignRequests } from './widget-helpers.ts';
import { publishWidgetModel, type WidgetModel } from './widget-model.ts';

let model: WidgetModel;
test.beforeAll(async () => {
  model = await publishWidgetModel();
});

test('keyboard only, floating launcher, Hangul IME never sends early, PII warning with masking', async ({
  page,
}) => {
  await page.goto(
    `/demo/?kb=&model=${model.url}&sha256=${model.sha256}&position=floating&autoload=1&max-tokens=8&conversation-id=ux`,
  );
  const launcher = chat(page).getByRole('button', { name: 'AI 상담 열기' });
  // Reach the launcher with Tab alone.
  for (let i = 0; i < 30 && !(await launcher.evaluate((b) => b.matches(':focus'))); i++)
    await page.keyboard.press('Tab');
  await expect(launcher).toBeFocused();
  await page.keyboard.press('Enter');
  const box = chat(page).getByRole('textbox', { name: '질문 입력' });
  await expect(box).toBeFocused();
  await waitReady(page);

  // Hangul composition as Chrome reports it: the Enter that commits the syllable arrives while
  // composing (isComposing, keyCode 229). It must not send.
  await box.evaluate((el: HTMLTextAreaElement) => {
    el.dispatchEvent(new CompositionEvent('compositionstart', { data: '' }));
    el.value = '안녕';
    el.dispatchEvent(
      new InputEvent('input', { data: '안녕', isComposing: true, inputType: 'insertCompositionText' }),
    );
    el.dispatchEvent(
      new KeyboardEvent('keydown', {
        key: 'Enter',
        code: 'Enter',
        keyCode: 229,
        isComposing: true,
        bubbles: true,
        cancelable: true,
      }),
    );
    el.dispatchEvent(new CompositionEvent('compositionend', { data: '안녕' }));
  });
  // Safari's order: compositionend first, then keydown with keyCode 229.
  await box.evaluate((el: HTMLTextAreaElement) => {
    el.dispatchEvent(new CompositionEvent('compositionstart', { data: '' }));
    el.value = '안녕하세요';
    el.dispatchEvent(
      new InputEvent('input', { data: '하세요', isComposing: true, inputType: 'insertCompositionText' }),
    );
    el.dispatchEvent(new CompositionEvent('compositionend', { data: '하세요' }));
    el.dispatchEvent(
      new KeyboardEvent('keydown', {
        key: 'Enter',
        code: 'Enter',
        keyCode: 229,
        isComposing: false,
        bubbles: true,
        cancelable: true,
      }),
    );
  });
  // Enter while composition is still open according to compositionstart, even if the event says otherwise.
  await box.evaluate((el: HTMLTextAreaElement) => {
    el.dispatchEvent(new CompositionEvent('compositionstart', { data: '' }));
    el.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Enter', keyCode: 13, bubbles: true, cancelable: true }),
    );
    el.dispatchEvent(new CompositionEvent('compositionend', { data: '' }));
  });
  await page.waitForTimeout(300);
  await expect(chat(page).locator('article[data-role=user]')).toHaveCount(0);
  await expect(box).toHaveValue('안녕하세요');
  // Now the citizen presses Enter: exactly one message, not a partial one and not two.
  await page.keyboard.press('Enter');
  await expect(chat(page).locator('article[data-role=user]')).toHaveCount(1);
  await expect(chat(page).locator('article[data-role=user]')).toContainText('안녕하세요');
  await expect(chat(page).locator('article[data-role=assistant]').first()).not.toHaveAttribute(
    'data-finish',
    '',
    {
      timeout: 60_000,
    },
  );
  await expect(chat(page).locator('article[data-role=user]')).toHaveCount(1);

  // PII: a resident number and a phone number trigger the warning; masking sends a safe text.
  await box.fill('제 주민번호는 900101-1234568, 연락처는 010-1234-5678 입니다');
  await page.keyboard.press('Enter');
  const dialog = chat(page).getByRole('alertdialog');
  await expect(dialog).toContainText('개인정보가 포함되어 있습니다');
  await expect(dialog).toContainText('주민등록번호');
  await expect(dialog).toContainText('전화번호');
  await expect(chat(page).locator('article[data-role=user]')).toHaveCount(1);
  await dialog.getByRole('button', { name: '가리고 보내기' }).click();
  const sent = chat(page).locator('article[data-role=user]').nth(1);
  await expect(sent).toContainText('900101-1******');
  await expect(sent).toContainText('***-****-5678');
  await expect(sent).not.toContainText('1234568');
  await expect(chat(page).locator('article[data-role=assistant]').nth(1)).not.toHaveAttribute(
    'data-finish',
    '',
    {
      timeout: 60_000,
    },
  );

  // Regenerate replaces the last answer; copy is offered on every answer.
  await chat(page).getByRole('button', { name: '다시 답하기' }).click();
  await expect(chat(page).locator('article[data-role=assistant]')).toHaveCount(2);
  await expect(chat(page).locator('article[data-role=assistant]').nth(1)).not.toHaveAttribute(
    'data-finish',
    '',
    {
      timeout: 60_000,
    },
  );
  await expect(chat(page).getByRole('button', { name: '복사' })).toHaveCount(2);

  // Clear history: gone from the screen and from IndexedDB (still gone after a reload).
  await chat(page).getByRole('button', { name: '대화 기록 지우기' }).click();
  await expect(chat(page).locator('article')).toHaveCount(0);
  await expect(chat(page).getByRole('status').last()).toHaveText('대화 기록을 모두 지웠습니다.');
  await page.reload();
  await launcher.click();
  await waitReady(page);
  await expect(chat(page).locator('article')).toHaveCount(0);

  // Escape closes the floating panel and gives focus back to the launcher.
  await box.focus();
  await page.keyboard.press('Escape');
  await expect(launcher).toBeFocused();
  await expect(chat(page).getByRole('textbox')).toHaveCount(0);
});

test('JS API and OpenAI-style SDK on the same engine; typed errors', async ({ page }) => {
  await page.goto(`/demo/?conversation-id=sdk`);
  const out = await page.evaluate(
    async ({ url, sha256 }) => {
      const embed: string = ['', 'dure-chat.js'].join('/');
      const mod = (await import(embed)) as typeof import('../src/widget/embed.ts');
      const dure = await mod.createDure({ model: url, sha256, backend: 'auto' });
      const messages = [{ role: 'user' as const, content: '기초연금은 누가 받을 수 있나요?' }];
      const chunks = [];
      for await (const c of await dure.chat.completions.create({
        messages,
        stream: true,
        max_tokens: 8,
        temperature: 0,
      }))
        chunks.push(c);
      const whole = await dure.chat.completions.create({ messages, max_tokens: 8, temperature: 0 });
      let invalid = '';
      await dure.chat.completions.create({ messages: [] }).catch((e: { code: string }) => (invalid = e.code));
      const ctl = new AbortController();
      ctl.abort();
      const preAborted = await dure.chat.completions.create({ messages, max_tokens: 64, signal: ctl.signal });
      // Stop a stream after its first words, as a "stop" button does.
      const live = new AbortController();
      let last: string | null = null;
      let pieces = 0;
      for await (const c of await dure.chat.completions.create({
        messages,
        stream: true,
        max_tokens: 500,
        signal: live.signal,
      })) {
        if (c.choices[0]?.delta.content && ++pieces === 2) live.abort();
        last = c.choices[0]?.finish_reason ?? null;
      }
      await dure.dispose();
      return {
        chunks,
        whole,
        invalid,
        preAborted: preAborted.choices[0]?.finish_reason,
        aborted: last,
        pieces,
        backend: dure.info.backend,
        decision: dure.backend,
      };
    },
    { url: model.url, sha256: model.sha256 },
  );
  expect(out.chunks[0]).toMatchObject({
    object: 'chat.completion.chunk',
    choices: [{ delta: { role: 'assistant' } }],
  });
  expect(out.chunks.at(-1)?.choices[0]?.finish_reason).toMatch(/stop|length/);
  const streamed = out.chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  expect(streamed.length).toBeGreaterThan(0);
  // Greedy decoding: streaming and non-streaming agree token for token.
  expect(out.whole.choices[0]?.message.content).toBe(streamed);
  expect(out.whole.usage.completion_tokens).toBeGreaterThan(0);
  expect(out.invalid).toBe('INVALID_REQUEST');
  expect(out.preAborted).toBe('abort');
  expect(out.aborted).toBe('abort');
  expect(out.pieces).toBeLessThan(20);
  expect(['webgpu', 'wasm-cpu']).toContain(out.backend);
  // backend "auto": the SDK hands the caller the measured decision (issue 21 item 4).
  expect(out.decision.backend).toBe(out.backend);
  expect(out.decision).toMatchObject({ measured: { cpu: { tokensPerSecond: expect.any(Number) } } });
  expect(out.decision.reason.en).toMatch(
    /path is faster on this device \((measured|measured earlier on this device): GPU/,
  );

  // The element's own JS API: ask() goes through the same path as typing, reset() clears.
  await page.evaluate(
    ({ url, sha256 }) => {
      const el = document.querySelector('dure-chat') as HTMLElement;
      el.setAttribute('sha256', sha256);
      el.setAttribute('max-tokens', '6');
      el.setAttribute('autoload', '');
      el.setAttribute('model', url);
    },
    { url: model.url, sha256: model.sha256 },
  );
  await waitReady(page);
  const message = page.evaluate(
    () =>
      new Promise((res) =>
        document.addEventListener('dure-message', (e) => res((e as CustomEvent).detail), { once: true }),
      ),
  );
  await chat(page).evaluate((el) =>
    (el as unknown as { ask(t: string): Promise<boolean> }).ask('여권 발급 수수료는?'),
  );
  expect(await message).toMatchObject({ role: 'assistant' });
  await expect(chat(page).locator('article[data-role=user]')).toHaveCount(1);
  await chat(page).evaluate((el) => (el as unknown as { reset(): Promise<void> }).reset());
  await expect(chat(page).locator('article')).toHaveCount(0);
});

test('model manager: integrity failure in Korean, then verified copy listed and deletable', async ({
  page,
}) => {
  const wrong = 'ab'.repeat(32);
  await page.goto(`/demo/?kb=&model=${model.url}&sha256=${wrong}&backend=webgpu&conversation-id=mm`);
  await chat(page)
    .getByRole('button', { name: /AI 상담 시작/ })
    .click();
  const alert = chat(page).getByRole('alert');
  await expect(alert).toContainText('모델 파일이 손상되었거나 변조되었습니다', { timeout: 60_000 });
  await expect(alert).toContainText('corrupted');
  await chat(page).getByText('저장된 모델', { exact: true }).click();
  await expect(chat(page).locator('.models')).toContainText('저장된 모델이 없습니다');

  await chat(page).evaluate((el, sha) => el.setAttribute('sha256', sha), model.sha256);
  await chat(page).getByRole('button', { name: '다시 시도' }).click();
  await waitReady(page);
  const row = chat(page).locator('.models li');
  await expect(row).toContainText('widget-test.gguf');
  await expect(row).toContainText('3.5 MB');
  await row.getByRole('button', { name: '삭제' }).click();
  await expect(chat(page).locator('.models')).toContainText('저장된 모델이 없습니다');
  const left = await page.evaluate(async () => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('dure-models');
    const names: string[] = [];
    for await (const n of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(n);
    return names;
  });
  expect(left).toEqual([]);
  // A chat still works from the loaded engine; answers keep their label.
  const a = await askAndWait(page, '삭제 후에도 답하나요?');
  await expect(a.locator('.ai-label')).toHaveText('AI가 생성한 답변');
});

test('CPU fallback: the same GGUF on llama.cpp in WebAssembly, wasm served from the portal origin', async ({
  page,
  baseURL,
}) => {
  const origin = new URL(baseURL ?? '').origin;
  const foreign = watchForeignRequests(page, origin);
  const wasm: string[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('.wasm')) wasm.push(r.url());
  });
  await page.goto(
    `/demo/?kb=&model=${model.url}&sha256=${model.sha256}&backend=wasm-cpu&autoload=1&max-tokens=8&lang=en&conversation-id=cpu`,
  );
  await waitReady(page);
  await expect(chat(page).locator('.backend')).toHaveAttribute('data-backend', 'wasm-cpu');
  await expect(chat(page).locator('.backend')).toContainText('Runs on: CPU (WebAssembly)');
  const a = await askAndWait(page, '주민등록등본은 어디서 발급하나요?');
  await expect(a.locator('.md')).not.toBeEmpty();
  await expect(a.locator('.ai-label')).toHaveText('AI-generated answer');
  expect(wasm.length).toBeGreaterThan(0);
  for (const u of wasm) expect(new URL(u).origin).toBe(origin);
  expect(foreign).toEqual([]);
});
