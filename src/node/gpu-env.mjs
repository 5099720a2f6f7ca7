// Points Vulkan at Chromium's SwiftShader when no driver is configured. The dynamic loader
// reads these variables once at process start, so this must run in the parent of any process
// that uses Dawn (vitest config, CLI launcher). Kept in plain JS so launchers need no TS loader.
// Tests also list Mesa's lavapipe, when installed, second: a software adapter with shader-f16
// (picked by name, see src/node/webgpu.ts); SwiftShader stays the default adapter.
import { existsSync, readdirSync } from 'node:fs';

export const CHROMIUM_LIB_DIR = '/usr/lib/chromium';
export const SWIFTSHADER_ICD = `${CHROMIUM_LIB_DIR}/vk_swiftshader_icd.json`;
const ICD_DIR = '/usr/share/vulkan/icd.d';

/** Mesa's lavapipe ICD file, if installed. */
export function lavapipeIcd() {
  if (!existsSync(ICD_DIR)) return undefined;
  const f = readdirSync(ICD_DIR).find((n) => /^lvp_icd.*\.json$/.test(n));
  return f ? `${ICD_DIR}/${f}` : undefined;
}

/**
 * @param {{ lavapipe?: boolean }} [opts] also list lavapipe (tests; Dawn then warns about its
 *   limits on stderr, which the CLI and benchmarks are spared)
 * @returns {Record<string,string>} variables to add (empty when already set or unavailable)
 */
export function softwareVulkanEnv(env = process.env, opts = {}) {
  if (env.VK_ICD_FILENAMES || !existsSync(SWIFTSHADER_ICD)) return {};
  const ld = env.LD_LIBRARY_PATH;
  const lvp = opts.lavapipe ? lavapipeIcd() : undefined;
  return {
    VK_ICD_FILENAMES: lvp ? `${SWIFTSHADER_ICD}:${lvp}` : SWIFTSHADER_ICD,
    LD_LIBRARY_PATH: ld ? `${CHROMIUM_LIB_DIR}:${ld}` : CHROMIUM_LIB_DIR,
  };
}
