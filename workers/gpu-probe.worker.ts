/// <reference lib="webworker" />
// Runs the WebGPU probe inside a worker, where inference will run, so the page never blocks.
import * as Comlink from 'comlink';
import { toErrorData, type ErrorData } from '../src/engine/errors.ts';
import { probeWebGpu, type ProbeResult } from '../src/engine/gpu/probe.ts';

const api = {
  async probe(): Promise<{ ok: true; result: ProbeResult } | { ok: false; error: ErrorData }> {
    try {
      return { ok: true, result: await probeWebGpu(self.navigator.gpu) };
    } catch (e) {
      // Errors travel as data and are rebuilt as the same class on the page.
      return { ok: false, error: toErrorData(e) };
    }
  },
};
export type GpuProbeApi = typeof api;
Comlink.expose(api);
