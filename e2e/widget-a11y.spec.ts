import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { chat, seedConversation, waitReady } from './widget-helpers.ts';
import { publishWidgetModel, type WidgetModel } from './widget-model.ts';

let model: WidgetModel;
test.beforeAll(async () => {
  model = await publishWidgetModel();
});

const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

async function axe(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).withTags(WCAG_21_AA).analyze();
  return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

const conversation = {
  ko: [
    { role: 'user' as const, content: '전입신고는 어디에서 하나요?' },
    {
      role: 'assistant' as const,
      content:
        '전입신고는 **이사한 날부터 14일 이내**에 하면 됩니다.\n\n1. 가까운 행정복지센터 방문\n2. [정부24](https://www.gov.kr) 온라인 신청\n\n준비물: `신분증`',
    },
  ],
  en: [
    { role: 'user' as const, content: 'Where do I report a change of address?' },
    {
      role: 'assistant' as const,
      content:
        'Report it **within 14 days** of moving.\n\n1. Visit a community service centre\n2. Apply online at [Gov24](https://www.gov.kr)\n\nBring: `ID card`',
    },
  ],
};

test('axe-core finds 0 WCAG 2.1 AA violations; screenshots light/dark × ko/en', async ({
  page,
}, testInfo) => {
  // Before anything is downloaded: the consent button state.
  await page.goto('/demo/?conversation-id=a11y-idle');
  await expect(chat(page).getByRole('button', { name: /AI 상담 시작/ })).toBeVisible();
  expect(await axe(page)).toEqual([]);

  for (const lang of ['ko', 'en'] as const) {
    for (const theme of ['light', 'dark'] as const) {
      const key = `a11y-${lang}-${theme}`;
      await seedConversation(page, key, conversation[lang]);
      await page.goto(
        `/demo/?kb=&model=${model.url}&sha256=${model.sha256}&model-name=Qwen2.5-0.5B-Instruct&model-license=Apache-2.0&autoload=1&lang=${lang}&theme=${theme}&conversation-id=${key}`,
      );
      await waitReady(page);
      // Which model answers, and its licence (issue 16 item 5), in the footer.
      await expect(chat(page).getByTestId('model-line')).toHaveText(
        lang === 'ko'
          ? '모델: Qwen2.5-0.5B-Instruct · 라이선스 Apache-2.0'
          : 'Model: Qwen2.5-0.5B-Instruct · Licence Apache-2.0',
      );
      await expect(chat(page).locator('article[data-role=assistant]')).toHaveCount(1);
      await expect(chat(page).locator('.ai-label')).toHaveText(
        lang === 'ko' ? 'AI가 생성한 답변' : 'AI-generated answer',
      );
      // The backend line's reason, folded under it, is checked open (its text and contrast).
      await chat(page).locator('.backend summary').click();
      await expect(chat(page).locator('.backend .reason')).toBeVisible();
      expect(await axe(page), `${lang}/${theme}`).toEqual([]);
      const path = testInfo.outputPath(`widget-${lang}-${theme}.png`);
      await chat(page).screenshot({ path });
      await testInfo.attach(`widget-${lang}-${theme}`, { path, contentType: 'image/png' });
    }
  }
});
