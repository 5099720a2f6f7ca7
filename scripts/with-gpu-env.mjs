#!/usr/bin/env node
// Runs a command with Vulkan pointed at SwiftShader when no driver is configured (the dynamic loader
// reads these variables only at process start, so they must be set by the parent).
import { spawn } from 'node:child_process';
import { softwareVulkanEnv } from '../src/node/gpu-env.mjs';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: with-gpu-env.mjs COMMAND [ARGS...]');
  process.exit(2);
}
const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, ...softwareVulkanEnv() } });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
