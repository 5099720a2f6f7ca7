/**
 * The admin dashboard served by the real federated server (a child process on a loopback port,
 * fresh data directory) in Debian's Chromium: sign in with the admin token, see the audit chain
 * verified, add an institution and get its one-time enrollment code, with Hangul names rendered
 * as text (never HTML).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';

const TOKEN = 'e2e-admin-token-0123456789abcdef';
let child: ChildProcess | undefined;
let dataDir = '';
let base = '';

test.beforeAll(async () => {
  test.setTimeout(120_000);
  dataDir = mkdtempSync(join(tmpdir(), 'dure-e2e-admin-'));
  child = spawn(process.execPath, ['--import', 'tsx', 'federated-server/src/main.ts'], {
    env: { ...process.env, PORT: '0', DURE_DATA_DIR: dataDir, DURE_ADMIN_TOKEN: TOKEN, DURE_LOG: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  base = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Dure federated server: (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child!.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child!.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
});

test.afterAll(() => {
  child?.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

test('admin dashboard: sign in, audit verified, add an institution', async ({ page }) => {
  await page.goto(`${base}/admin`);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('두레 연합학습 관리');
  await page.getByLabel(/Admin token/).fill(TOKEN);
  await page.getByRole('button', { name: /Sign in/ }).click();
  await expect(page.getByTestId('audit-status')).toContainText('verified');

  const name = '<b>서울특별시 보건소</b>';
  await page.getByPlaceholder(/name/).fill(name);
  await page.getByRole('button', { name: /Add/ }).click();
  await expect(page.getByText(/enrollment code \(shown once\)/)).toBeVisible();
  const row = page.getByRole('row').filter({ hasText: '서울특별시 보건소' });
  await expect(row).toContainText(name); // literal text, not markup
  await expect(row).toContainText('pending');
  await expect(page.locator('b', { hasText: '서울특별시 보건소' })).toHaveCount(0);
  // the audit chain now has the admin-created institution and still verifies
  await expect(page.getByTestId('audit-status')).toContainText(/verified — [1-9]\d* entries/);
});
