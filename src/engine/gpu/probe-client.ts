/** Page side of the WebGPU probe worker (workers/gpu-probe.worker.ts implements `GpuProbeApi`). */
import * as Comlink from 'comlink';
import { unwrapOutcome, type Outcome } from '../errors.ts';
import type { ProbeResult } from './probe.ts';

/** What the probe worker answers. */
export interface GpuProbeApi {
  probe(): Promise<Outcome<ProbeResult>>;
}

/**
 * Probes WebGPU inside `worker` (where inference will run, so the page never blocks), then ends it.
 * @throws {import('../errors.ts').DureError} rebuilt from the worker's error.
 */
export async function probeInWorker(worker: Worker): Promise<ProbeResult> {
  const api = Comlink.wrap<GpuProbeApi>(worker);
  try {
    return unwrapOutcome(await api.probe());
  } finally {
    api[Comlink.releaseProxy]();
    worker.terminate();
  }
}
