/**
 * Citizens' feedback on answers (issue 17 item 5), end to end: a citizen labels an answer in the
 * widget and writes a correction holding a phone number and a name; nothing leaves the page while
 * they do (no request at all), Enter during Hangul composition does not save, and the labels leave
 * only as a file on an explicit export. The institution loads that file (twice, plus a file that is
 * not an export) in the console and gets curated JSONL: deduplicated, personal data masked, with
 * the question, the answer, the label and the correction, and a training record made of them.
 */
import AxeBuilder from '@axe-core/playwright';
import { readFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { askAndWait, chat } from './widget-helpers.ts';

const PHONE = '010-2345-6789';
const NAME = '김민수';
const CORRECTION = `주가는 안내하지 않지만, 담당자 ${NAME} 씨에게 ${PHONE}로 문의하라고 알려 주면 좋겠습니다.`;
const QUESTION = '오늘 삼성전자 주가 얼마야?';

test.use({ locale: 'ko-KR' });

const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
async function axe(page: Page, include: string): Promise<string[]> {
  const r = await new AxeBuilder({ page }).include(include).withTags(WCAG_21_AA).analyze();
  return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** The stored labels, read straight from the widget's IndexedDB. */
function storedFeedback(page: Page): Promise<{ label: string; correction?: string }[]> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((res, rej) => {
      const r = indexedDB.open('dure-feedback');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const rows = await new Promise<{ record: { label: string; correction?: string } }[]>((res, rej) => {
      const q = db.transaction('feedback').objectStore('feedback').getAll();
      q.onsuccess = () => res(q.result as { record: { label: string; correction?: string } }[]);
      q.onerror = () => rej(q.error);
    });
    db.close();
    return rows.map((r) => r.record);
  });
}

test('label an answer on the device, export it, curate it in the console', async ({ page }, testInfo) => {
  const sent: string[] = [];
  page.on('request', (r) => sent.push(`${r.method()} ${r.url()}\n${r.postData() ?? ''}`));

  // An out-of-scope question is declined at once (no model download): an answer to label.
  await page.goto('/demo/?conversation-id=feedback-e2e');
  const answer = await askAndWait(page, QUESTION);
  await page.waitForLoadState('networkidle');
  const before = sent.length;

  const group = answer.getByRole('group', { name: '이 답변은 어땠나요?' });
  for (const name of ['정확해요', '환각', '유해', '편향', '회피'])
    await expect(group.getByRole('button', { name })).toHaveAttribute('aria-pressed', 'false');
  await group.getByRole('button', { name: '회피' }).click();
  await expect(group.getByRole('button', { name: '회피' })).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(() => storedFeedback(page)).toEqual([expect.objectContaining({ label: 'evasive' })]);

  // Enter while Hangul is being composed commits the syllable; it must not save.
  const box = group.getByRole('textbox');
  await box.fill(CORRECTION);
  await box.dispatchEvent('keydown', { key: 'Enter', isComposing: true, keyCode: 229 });
  await page.waitForTimeout(200);
  expect((await storedFeedback(page))[0]!.correction).toBeUndefined();
  await box.press('Enter');
  await expect.poll(async () => (await storedFeedback(page))[0]!.correction).toBe(CORRECTION);
  expect(await axe(page, 'dure-chat'), 'widget with the feedback control open').toEqual([]);
  // On a 320 px phone the control wraps inside the answer instead of widening it.
  await page.setViewportSize({ width: 320, height: 640 });
  await expect
    .poll(() =>
      answer.evaluate(
        (el) => el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().right <= innerWidth,
      ),
    )
    .toBe(true);
  await chat(page).screenshot({ path: testInfo.outputPath('widget-feedback-320.png') });
  await page.setViewportSize({ width: 1280, height: 720 });

  expect(sent.slice(before), 'labelling made no request at all').toEqual([]);

  // The export: a file, only on the click.
  const store = chat(page).getByTestId('feedback-store');
  await store.locator('summary').click();
  await expect(store.locator('summary')).toHaveText('내 답변 평가 (1)');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    store.getByRole('button', { name: '피드백 내보내기' }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^dure-feedback-\d{4}-\d{2}-\d{2}\.jsonl$/);
  const exported = await readFile((await download.path())!, 'utf8');
  const [header, line] = exported
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(header).toMatchObject({ format: 'dure-feedback', version: 1, records: 1 });
  expect(line).toMatchObject({ label: 'evasive', question: QUESTION, correction: CORRECTION });
  for (const s of sent)
    for (const secret of [PHONE, NAME, '주가는 안내하지']) expect(s).not.toContain(secret);

  // The institution's console: the same export twice (deduplicated) and a file that is not one.
  await page.goto('/console.html');
  await page.getByLabel('피드백 파일 선택 (여러 개 가능)').setInputFiles([
    { name: 'a.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(exported) },
    { name: 'b.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(exported) },
    { name: 'bad.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from('{"__proto__":{"x":1}}\n') },
  ]);
  await expect(page.getByTestId('feedback-read')).toHaveText('2');
  await expect(page.getByTestId('feedback-duplicates')).toHaveText('1');
  await expect(page.getByTestId('feedback-kept')).toHaveText('1');
  await expect(page.getByTestId('feedback-corrections')).toHaveText('1');
  await expect(page.getByTestId('feedback-labels').locator('tr[data-label=evasive] td').nth(1)).toHaveText(
    '1',
  );
  await expect(page.getByTestId('feedback-files').locator('li[data-error=FEEDBACK_FORMAT]')).toHaveCount(1);
  await expect(page.getByTestId('feedback-scrubbed').locator('li[data-kind=phone]')).toContainText('1');
  await expect(page.getByTestId('feedback-scrubbed').locator('li[data-kind=name]')).toContainText('1');
  const panel = await page.getByRole('region', { name: '시민 피드백 불러오기' }).innerText();
  expect(panel).not.toContain(PHONE);
  expect(panel).not.toContain(NAME);

  const [curatedDl] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: '정리된 피드백 JSONL 내려받기' }).click(),
  ]);
  const curated = (await readFile((await curatedDl.path())!, 'utf8')).trim().split('\n');
  expect(curated).toHaveLength(1);
  const row = JSON.parse(curated[0]!) as Record<string, unknown>;
  const masked = CORRECTION.replace(NAME, '[이름]').replace(PHONE, '[전화번호]');
  expect(row).toMatchObject({
    label: 'evasive',
    question: QUESTION,
    correction: masked,
    example: { instruction: QUESTION, input: '', output: masked },
  });
  expect(String(row['answer'])).toContain('민원 자료에 없는 내용');

  // The corrections become the console's training data, through the dataset panel's own checks.
  await page.getByRole('button', { name: '학습 데이터로 사용' }).click();
  await expect(page.getByTestId('dataset-records')).toHaveText('1');
  expect(await axe(page, 'main')).toEqual([]);
  await page.screenshot({ path: testInfo.outputPath('console-feedback.png'), fullPage: true });

  for (const s of sent)
    for (const secret of [PHONE, NAME, '주가는 안내하지']) expect(s).not.toContain(secret);
});
