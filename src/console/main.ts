/** Entry of the institution console page (console.html). */
import { mount } from 'svelte';
import Console from './Console.svelte';
import { createBrowserDriver } from './driver.ts';

mount(Console, { target: document.getElementById('console')!, props: { driver: createBrowserDriver() } });
