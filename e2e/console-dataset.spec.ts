/**
 * The institution console's dataset panel in Chromium: a picked JSONL file is
 * validated with per-line errors, Korean identifiers are masked before anything trains (the
 * report shows placeholders, never the values), rows render as text, the split is shown, the
 * page passes axe-core, and the file's contents never appear in any network request.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Request } from '@playwright/test';

const PHONE = '010-4821-7730';
const RRN = '900101-1234568';
const MARKER = '두레표지ZQX7731';
const XSS = '<img src=x onerror="window.__pwned=1">';

test.use({ locale: 'ko-KR' });

function datasetFile(): string {
  const lines: string[] = [];
  for (let i = 0; i < 18; i++) {
    lines.push(
      JSON.stringify({
        instruction: `여권 발급 문의 ${i} ${MARKER}`,
        input: '',
        output: `구청 민원실에서 발급합니다 ${i}.`,
      }),
    );
  }
  lines.push(
    JSON.stringify({
      instruction: `연락처 ${PHONE} 로 회신 바랍니다`,
      input: `주민번호 ${RRN}`,
      output: '확인했습니다.',
    }),
  );
  lines.push('{"instruction": 깨진 줄');
  lines.push(
    JSON.stringify({
      messages: [
        { role: 'user', content: XSS },
        { role: 'assistant', content: '텍스트로 보입니다' },
      ],
    }),
  );
  lines.push(JSON.stringify({ messages: [{ role: 'robot', content: 'x' }] }));
  return lines.join('\n') + '\n';
}

test('console dataset panel: validation, PII report, split, safe rendering, nothing sent', async ({
  page,
}, testInfo) => {
  const requests: Request[] = [];
  page.on('request', (r) => requests.push(r));
  await page.goto('/console.html');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('두레 기관 콘솔');

  await page.getByLabel('JSONL 파일 선택').setInputFiles({
    name: '민원.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(datasetFile(), 'utf8'),
  });
  await expect(page.getByTestId('dataset-records')).toHaveText('20');
  await expect(page.getByTestId('dataset-lines')).toHaveText('22');
  await expect(page.getByTestId('dataset-issues')).toHaveText('2');
  await expect(page.getByText('20번째 줄: JSON 형식이 아닙니다')).toBeVisible();
  await expect(page.getByText(/22번째 줄: messages\[0\]의 "role"/)).toBeVisible();
  await expect(page.getByTestId('dataset-split')).toHaveText('학습 18 / 검증 2');

  const pii = page.getByTestId('pii-report');
  await expect(pii.locator('tr[data-kind="phone"]')).toContainText('1');
  await expect(pii.locator('tr[data-kind="rrn"]')).toContainText('1');
  await expect(page.getByText('[전화번호]').first()).toBeVisible();
  const body = await page.locator('main').innerText();
  expect(body).not.toContain(PHONE);
  expect(body).not.toContain(RRN);
  expect(body).not.toContain('1234568');

  // English toggle relabels everything, including per-line errors.
  await page.getByRole('button', { name: 'English' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Dure institution console');
  await expect(page.getByText('line 20: not valid JSON')).toBeVisible();
  await expect(page.getByTestId('dataset-split')).toHaveText('Train 18 / Validation 2');

  // The XSS row (if sampled) is text; in any case no element was injected and nothing ran.
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await expect(page.locator('main img')).toHaveCount(0);

  const axe = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  expect(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual(
    [],
  );
  await page.screenshot({ path: testInfo.outputPath('console-dataset.png'), fullPage: true });

  for (const r of requests) {
    const text = `${r.url()}\n${r.postData() ?? ''}`;
    for (const secret of [MARKER, PHONE, RRN, '여권 발급 문의']) expect(text).not.toContain(secret);
  }
});

test('console: names masked, sample datasets offered, a Korean answer for an unreachable server, and a reopened page says it forgot the file', async ({
  page,
}, testInfo) => {
  await page.goto('/console.html');
  const file = {
    name: '상담.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(
      [
        JSON.stringify({
          instruction: '제 이름은 강슬기이고 전입신고를 하려고 합니다',
          output: '강슬기 님, 신분증을 챙겨 오세요.',
        }),
        JSON.stringify({ instruction: '환자 P-004512 예약 변경', output: '변경했습니다.' }),
        JSON.stringify({ instruction: '여권 발급 문의', output: '구청 민원실에서 발급합니다.' }),
      ].join('\n') + '\n',
      'utf8',
    ),
  };
  await page.getByLabel('JSONL 파일 선택').setInputFiles(file);
  await expect(page.getByTestId('pii-report').locator('tr[data-kind="name"]')).toContainText('2');
  expect(await page.locator('main').innerText()).not.toContain('강슬기');

  // The institution's own identifier: an unsafe pattern is refused in Korean, a safe one masks.
  await page.getByText('기관 지정 식별자 패턴').click();
  await page.getByLabel('이름 (가린 자리에 표시)').fill('환자번호');
  await page.getByLabel('정규식').fill('(\\d+)+');
  await page.getByRole('button', { name: '패턴 추가' }).click();
  await expect(page.getByTestId('pattern-error')).toContainText('오래 걸릴 수 있어');
  await page.getByLabel('정규식').fill('P-\\d{6}');
  await page.getByRole('button', { name: '패턴 추가' }).click();
  await expect(page.getByTestId('pii-report').locator('tr[data-kind="custom"]')).toContainText('1');
  expect(await page.locator('main').innerText()).not.toContain('P-004512');

  // The three sample datasets come from the console's own assets.
  const samples = page.getByTestId('sample-datasets').getByRole('link');
  await expect(samples).toHaveCount(3);
  const download = page.waitForEvent('download');
  await samples.first().click();
  const got = await download;
  expect(got.suggestedFilename()).toBe('civil.jsonl');
  const text = await (await page.request.get('samples/hospital.jsonl')).text();
  expect(text.trim().split('\n')).toHaveLength(80);

  // Nobody listens on this port: the console names the address and what to check, in Korean.
  await page.getByLabel('서버 주소').fill('http://127.0.0.1:9');
  await page.getByLabel('일회용 등록 코드').fill('ABCDEFGHIJKLMNOP');
  await page.getByRole('button', { name: '등록', exact: true }).click();
  const error = page.getByTestId('console-error');
  await expect(error).toContainText('서버(http://127.0.0.1:9)에 연결하지 못했습니다.', { timeout: 30_000 });
  await expect(page.getByTestId('console-error-checks')).toContainText('DURE_CORS_ORIGINS');
  await expect(error.locator('p').first()).not.toContainText('NETWORK');
  await expect(page.getByTestId('console-error-detail')).toBeHidden(); // codes only under 자세히
  await page.getByText('자세히 (담당자용)').click();
  await expect(page.getByTestId('console-error-detail')).toContainText('NETWORK');

  const axe = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  expect(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual(
    [],
  );
  await page.screenshot({ path: testInfo.outputPath('console-errors-and-masking.png'), fullPage: true });

  await page.reload();
  await expect(page.getByTestId('dataset-forgotten')).toContainText('상담.jsonl');
  await expect(page.getByTestId('custom-patterns')).toContainText('(1)');
});
