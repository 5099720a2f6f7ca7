import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';
import { softwareVulkanEnv } from './src/node/gpu-env.mjs';

// Test workers are forked from this process, so SwiftShader's Vulkan settings must be in
// place before they start (the dynamic loader reads them once).
Object.assign(process.env, softwareVulkanEnv(process.env, { lavapipe: true }));

export default defineConfig({
  plugins: [svelte()],
  test: {
    include: ['src/**/*.test.ts', 'federated-server/**/*.test.ts', 'scripts/**/*.test.ts'],
    pool: 'forks',
    // Two files at a time even on a 2-core machine: many server and federation tests spend their
    // time waiting (deadlines, child processes, sockets), which the other file's work fills.
    maxWorkers: 2,
    // Generous: a GPU-emulated case on a busy machine can take minutes; a hang still fails.
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
