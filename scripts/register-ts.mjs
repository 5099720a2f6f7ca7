// `node --import ./scripts/register-ts.mjs file.ts`: run Dure's TypeScript unbundled (tsx) with
// Vite-style `?raw` imports for WGSL. The raw hook is registered last so it runs first.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./raw-loader.mjs', import.meta.url);
