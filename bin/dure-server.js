#!/usr/bin/env node
// `npx dure-server …`: the federated server's command line (TypeScript run through tsx).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../federated-server/src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
