/** Page side of the probe worker. */
import * as Comlink from 'comlink';
import { fromErrorData } from '../engine/errors.ts';
import type { ProbeResult } from '../engine/gpu/probe.ts';
import type { GpuProbeApi } from '../../workers/gpu-probe.worker.ts';

/** @throws {import('../engine/errors.ts').DureError} rebuilt from the worker's error. */
export async function probeInWorker(): Promise<ProbeResult> {
  const worker = new Worker(new URL('../../workers/gpu-probe.worker.ts', import.meta.url), {
    type: 'module',
  });
  const api = Comlink.wrap<GpuProbeApi>(worker);
  try {
    const r = await api.probe();
    if (!r.ok) throw fromErrorData(r.error);
    return r.result;
  } finally {
    api[Comlink.releaseProxy]();
    worker.terminate();
  }
}
