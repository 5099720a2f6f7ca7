/**
 * The no-build embed, so a portal needs no bundler: `<script type="module" src="/dure-chat.js">`
 * defines `<dure-chat>`. Built as a stable file name by vite.config.ts so portals can link it
 * directly; it is also the entry of the installable package (`npm run build:sdk`), so
 * `import { createDure } from 'dure'` gets the whole SDK and defines the element.
 */
import './DureChat.svelte';

export * from '../sdk/index.ts';
export * from './element.ts';
export type { ChatMessage, ModelInfo } from '../engine/api.ts';
export type { BackendDecision } from './backend.ts';
export { DureError } from '../protocol/errors.ts';
