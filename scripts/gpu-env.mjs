// Points Vulkan at Chromium's SwiftShader when no driver is configured. The dynamic loader
// reads these variables once at process start, so this must run in the parent of any process
// that uses Dawn (vitest config, CLI launcher). Kept in plain JS so launchers need no TS loader.
import { existsSync } from 'node:fs';

export const CHROMIUM_LIB_DIR = '/usr/lib/chromium';
export const SWIFTSHADER_ICD = `${CHROMIUM_LIB_DIR}/vk_swiftshader_icd.json`;

/** @returns {Record<string,string>} variables to add (empty when already set or unavailable) */
export function softwareVulkanEnv(env = process.env) {
  if (env.VK_ICD_FILENAMES || !existsSync(SWIFTSHADER_ICD)) return {};
  const ld = env.LD_LIBRARY_PATH;
  return {
    VK_ICD_FILENAMES: SWIFTSHADER_ICD,
    LD_LIBRARY_PATH: ld ? `${CHROMIUM_LIB_DIR}:${ld}` : CHROMIUM_LIB_DIR,
  };
}
