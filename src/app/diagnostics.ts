// WebGPU diagnostics page: runs the probe in a worker and shows what this browser can do.
import { probeInWorker } from '../engine/gpu/probe-client.ts';
import { spawnGpuProbeWorker } from '../../workers/spawn.ts';
import { pickLang, strings } from './i18n.ts';

const t = strings[pickLang(navigator.languages)];
const status = document.getElementById('status') as HTMLElement;
const details = document.getElementById('details') as HTMLElement;
status.textContent = t.probing;

const done = probeInWorker(spawnGpuProbeWorker()).then(
  (r) => {
    status.textContent = r.dispatchOk ? t.probeOk : t.probeFail;
    status.dataset['state'] = r.dispatchOk ? 'ok' : 'fail';
    details.textContent = JSON.stringify(r, null, 2);
    return { ok: true as const, result: r };
  },
  (e: unknown) => {
    const err = e as { name?: string; code?: string; message?: string };
    status.textContent = `${t.probeFail}: ${err.message ?? String(e)}`;
    status.dataset['state'] = 'fail';
    return { ok: false as const, error: { name: err.name, code: err.code, message: err.message } };
  },
);
// Exposed for end-to-end tests and for people debugging from the console.
(window as unknown as { dureDiagnostics: typeof done }).dureDiagnostics = done;
