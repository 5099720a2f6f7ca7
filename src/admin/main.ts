/** Entry of the admin dashboard page (admin.html), served by the federated server at /admin. */
import { mount } from 'svelte';
import Dashboard from './Dashboard.svelte';

mount(Dashboard, { target: document.getElementById('admin')! });
