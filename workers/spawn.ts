/**
 * Where the page starts Dure's workers. The clients (src/engine/worker-client.ts,
 * src/training/worker-client.ts, src/engine/gpu/probe-client.ts) take a started Worker, so code
 * below this layer never names a worker file; the literal `new Worker(new URL(…))` form is what
 * the bundler recognises to build each worker as its own module.
 */
export function spawnInferenceWorker(): Worker {
  return new Worker(new URL('./inference.worker.ts', import.meta.url), { type: 'module' });
}

export function spawnTrainingWorker(): Worker {
  return new Worker(new URL('./training.worker.ts', import.meta.url), { type: 'module' });
}

export function spawnGpuProbeWorker(): Worker {
  return new Worker(new URL('./gpu-probe.worker.ts', import.meta.url), { type: 'module' });
}
