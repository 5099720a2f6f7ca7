/**
 * Where the page starts Dure's workers. The clients (src/engine/worker-client.ts,
 * src/training/worker-client.ts, src/engine/gpu/probe-client.ts) take a started Worker, so code
 * below this layer never names a worker file.
 *
 * Each worker's URL is resolved against this module's own URL, never the page's: `dure-chat.js`
 * may be served from the web root, from a sub-path (`/dure/`), or from another origin than the
 * portal page that loads it. Browsers refuse a worker script from another origin, so then the
 * worker is started from a same-origin blob module that imports the real script (the Dure host
 * sends CORS headers for its scripts); inside, `import.meta.url` is the real URL, so the worker's
 * own imports resolve on the Dure host too.
 */
import gpuProbeWorkerUrl from './gpu-probe.worker.ts?worker&url';
import inferenceWorkerUrl from './inference.worker.ts?worker&url';
import trainingWorkerUrl from './training.worker.ts?worker&url';

/** The absolute URL of a bundled worker script (relative URLs resolve against this module). */
export function workerScriptUrl(src: string): URL {
  return new URL(src, import.meta.url);
}

/**
 * Starts a module worker from `url`, wherever it is served. A script that cannot load (404, no
 * CORS header, syntax error) fires the worker's `error` event; `watchWorker` turns that into a
 * rejection.
 */
export function startModuleWorker(url: string | URL, name: string): Worker {
  const abs = url instanceof URL ? url : workerScriptUrl(url);
  if (typeof location === 'undefined' || abs.origin === location.origin)
    return new Worker(abs, { type: 'module', name });
  const shim = URL.createObjectURL(
    new Blob([`import ${JSON.stringify(abs.href)};\n`], { type: 'text/javascript' }),
  );
  try {
    return new Worker(shim, { type: 'module', name });
  } finally {
    // The worker took the blob's URL when it was constructed; the page needs it no longer.
    URL.revokeObjectURL(shim);
  }
}

export function spawnInferenceWorker(): Worker {
  return startModuleWorker(inferenceWorkerUrl, 'dure-inference');
}

export function spawnTrainingWorker(): Worker {
  return startModuleWorker(trainingWorkerUrl, 'dure-training');
}

export function spawnGpuProbeWorker(): Worker {
  return startModuleWorker(gpuProbeWorkerUrl, 'dure-gpu-probe');
}

/**
 * Rejects when `worker` reports that its script failed to load or threw at the top level (the
 * `error` event), or when a message from it cannot be deserialised; `stop()` detaches. Comlink
 * calls to a worker that never started would otherwise wait forever.
 */
export function watchWorker(
  worker: Worker,
  describe: (detail: string) => Error,
): { failed: Promise<never>; stop: () => void } {
  let stop = () => undefined as void;
  const failed = new Promise<never>((_, reject) => {
    const onError = (e: Event) => {
      // An ErrorEvent when the script threw; a plain Event when it could not be fetched at all.
      const message = (e as Partial<ErrorEvent>).message;
      const detail = typeof message === 'string' && message ? message : 'the worker script did not load';
      reject(describe(detail));
    };
    const onMessageError = () => reject(describe('a message from the worker could not be read'));
    worker.addEventListener('error', onError);
    worker.addEventListener('messageerror', onMessageError);
    stop = () => {
      worker.removeEventListener('error', onError);
      worker.removeEventListener('messageerror', onMessageError);
    };
  });
  // Nobody may be awaiting it (the call it guards finished first): never an unhandled rejection.
  failed.catch(() => undefined);
  return { failed, stop: () => stop() };
}
