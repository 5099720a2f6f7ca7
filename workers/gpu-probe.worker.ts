/// <reference lib="webworker" />
// Runs the WebGPU probe inside a worker, where inference will run, so the page never blocks.
import * as Comlink from 'comlink';
import type { GpuProbeApi } from '../src/engine/gpu/probe-client.ts';
import { settle } from '../src/engine/errors.ts';
import { probeWebGpu } from '../src/engine/gpu/probe.ts';

const api: GpuProbeApi = {
  // Errors travel as data and are rebuilt as the same class on the page.
  probe: () => settle(() => probeWebGpu(self.navigator.gpu)),
};
Comlink.expose(api);
