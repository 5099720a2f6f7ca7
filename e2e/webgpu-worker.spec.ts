import { expect, test } from '@playwright/test';

test('a Web Worker gets a WebGPU adapter through comlink and runs a compute shader', async ({ page }) => {
  await page.goto('/diagnostics.html');
  const outcome = await page.evaluate(
    () => (window as unknown as { dureDiagnostics: Promise<unknown> }).dureDiagnostics,
  );
  // Fail loudly with the worker's own error if there is no adapter.
  expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
  const { result } = outcome as { result: { dispatchOk: boolean; sample: number[]; features: string[] } };
  expect(result.sample).toEqual([21, 42, 63, 84, 105]);
  expect(result.dispatchOk).toBe(true);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'ok');
});
