/**
 * The no-build embed, so a portal needs no bundler: `<script type="module" src="/dure-chat.js">`
 * defines `<dure-chat>`. Built as a stable file name by vite.config.ts so portals can link it
 * directly.
 */
import './DureChat.svelte';

export { createDure } from '../sdk/index.ts';
