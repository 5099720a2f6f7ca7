/**
 * The one place end-to-end tests get a browser with WebGPU: Debian's Chromium with SwiftShader as
 * the adapter (a software GPU, so no real one is needed). Playwright cannot download browsers here.
 */
import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = process.env['DURE_CHROMIUM'] ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function assertChromium(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Install it with \`apt-get install -y chromium\` ` +
        '(or set DURE_CHROMIUM to a Chromium binary). End-to-end tests never skip silently.',
    );
  }
}
