#!/usr/bin/env node
// `npx dure <command>`: Dure's command line. Plain JavaScript so it starts without a TS loader.
// 1. Vulkan's loader reads VK_ICD_FILENAMES / LD_LIBRARY_PATH only at process start, so when
//    SwiftShader settings are needed (no GPU driver configured) we re-spawn ourselves once with them.
// 2. Then register tsx (TypeScript) and the `?raw` hook (WGSL imports) and run src/cli/main.ts.
import { spawn } from 'node:child_process';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { softwareVulkanEnv } from '../src/node/gpu-env.mjs';

const extra = softwareVulkanEnv();
if (Object.keys(extra).length > 0 && process.env.DURE_CLI_RESPAWNED !== '1') {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, ...extra, DURE_CLI_RESPAWNED: '1' } },
  );
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    process.exitCode = signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : (code ?? 1);
  });
} else {
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  // Registered after tsx so it runs first for `*.wgsl?raw` URLs.
  register('../scripts/raw-loader.mjs', import.meta.url);
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
