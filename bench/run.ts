/**
 * `npm run bench [-- --quick]`: measures Dure on this machine's WebGPU adapter and writes
 * bench/results/latest.json plus a readable table. Ratios are taken within one run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isCpuEmulatedAdapter } from '../src/engine/gpu/device.ts';
import { requestNodeGpu } from '../src/node/webgpu.ts';
import { benchModelPath } from './bench-model.ts';
import { gpuBenchModelPath, LONG_CONTEXT_SHAPE } from './gpu-model.ts';
import { benchDecode, benchLongContext } from './decode.ts';
import { benchPeers, peersTable } from './peers.ts';
import { roofline } from './roofline.ts';
import { benchTraining } from './training.ts';

const quick = process.argv.includes('--quick');
const gpu = await requestNodeGpu();
const features = [...gpu.device.features].sort();
console.error(`bench: adapter ${gpu.description} (${features.join(', ')})${quick ? ' [quick]' : ''}`);

const roof = await roofline(gpu.device, {
  sizes: quick ? [2048] : [2048, 4096],
  iters: quick ? 5 : 15,
  subgroups: gpu.device.features.has('subgroups'),
});

// Fused layer kernels (5 dispatches per layer: the GPU default) and the separate ones (12: the
// default on CPU-emulated adapters), same model, same run, so their ratio survives a noisy machine.
const decodeOpts = {
  decodeTokens: quick ? 8 : 64,
  // The software adapter needs minutes for a 256-token prefill of the bench model; quick mode
  // measures 64 (the JSON says how many).
  prefillTokens: quick ? 64 : 256,
};
const decode = await benchDecode(gpu.device, await benchModelPath(), { ...decodeOpts, fuseKernels: true });
const decodeUnfused = await benchDecode(gpu.device, await benchModelPath(), {
  ...decodeOpts,
  fuseKernels: false,
});
const engineDefault = isCpuEmulatedAdapter(gpu.device) ? 'unfused' : 'fused';

// Decode with ≥ 2048 tokens of context ÷ with a short one, same engine, same run (issue #21 item 5).
// The bench model's proportions with a 4k context (random Q4_K_M blocks, made in a second: the
// cost does not depend on the values); the kernels the engine picks on this adapter.
const longContext = await benchLongContext(gpu.device, await gpuBenchModelPath(LONG_CONTEXT_SHAPE), {
  tokens: quick ? 4 : 16,
});

// LoRA training tokens/s (issue #9 item 5): the WGSL trainer vs the tfjs reference, same batch, one
// run (bench/training.ts). A failure is reported without losing the other measurements.
const training = await benchTraining({
  device: gpu.device,
  seqLen: quick ? 16 : 64,
  steps: quick ? 1 : 3,
}).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));

// The federated server under load (bench/server-load.ts, its own process and PGlite): round
// latency, aggregation time and peak memory with N institutions uploading real-shaped adapters.
interface ServerLoad {
  clients: number;
  shape: { layers: number; rank: number; adapterMB: number };
  rounds: { round: number; latencySeconds: number; aggregationSeconds: number; updatesPerSecond: number }[];
  serverPeakRssMB: number;
}
function benchServer(): ServerLoad | Error {
  const args = quick
    ? ['--clients', '20', '--rounds', '1', '--layers', '8']
    : ['--clients', '100', '--rounds', '2', '--layers', '28'];
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/server-load.ts', ...args], {
    cwd: new URL('..', import.meta.url),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 15 * 60_000,
  });
  if (run.status !== 0) return new Error(`server-load exited with ${run.status ?? run.signal}`);
  return JSON.parse(
    readFileSync(new URL('./results/server-load.json', import.meta.url), 'utf8'),
  ) as ServerLoad;
}
const server = benchServer();

// Peers in one Chromium on the same (software) adapter, plus the CPU paths (bench/peers.ts).
// ONNX Runtime Web needs ~10 s per token on SwiftShader, so quick mode keeps the runs short.
// A failure here (no Chromium) is reported without losing the measurements above.
const peers = await benchPeers({
  promptTokens: quick ? 16 : 64,
  decodeTokens: quick ? 4 : 16,
  onnxWeights: 'q4',
  cpuThreads: 1,
}).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));

const results = {
  date: new Date().toISOString(),
  quick,
  adapter: { description: gpu.description, features },
  roofline: roof,
  decode: { ...decode, long_context_ratio: longContext.ratio, long_context: longContext },
  decode_unfused: decodeUnfused,
  fused_over_unfused: {
    decode: decode.tok_s / decodeUnfused.tok_s,
    prefill: decode.prefill_tok_s / decodeUnfused.prefill_tok_s,
    engine_default_here: engineDefault,
  },
  ...(training instanceof Error ? { training_error: training.message } : { training }),
  ...(server instanceof Error ? { server_error: server.message } : { server }),
  ...(peers instanceof Error
    ? { peers: [], peers_error: peers.message }
    : {
        peers: peers.peers,
        ratios: {
          dure_over_ort_web_decode: peers.ratios.decode,
          dure_over_ort_web_prefill: peers.ratios.prefill,
        },
        peers_run: peers,
      }),
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');

const lines = [
  `Roofline (${roof.timing}); copy ${roof.copy_gbps.toFixed(2)} GB/s`,
  'type   size        MB     ms      GB/s   ratio-to-copy',
  ...roof.kernels.map(
    (k) =>
      `${k.type.padEnd(6)} ${`${k.rows}x${k.cols}`.padEnd(10)} ${(k.weight_bytes / 1e6).toFixed(1).padStart(6)} ` +
      `${k.ms.toFixed(2).padStart(7)} ${k.gbps.toFixed(2).padStart(8)} ${k.ratio_to_copy.toFixed(3).padStart(8)}`,
  ),
  '',
  `Decode: ${decode.model}`,
  ...[
    ['fused', decode],
    ['unfused', decodeUnfused],
  ].flatMap(([name, d]) => {
    const r = d as typeof decode;
    return [
      `  ${String(name).padEnd(8)} decode ${r.tok_s.toFixed(2)} tok/s · prefill(${r.prefill_tokens}) ${r.prefill_tok_s.toFixed(2)} tok/s · TTFT ${r.ttft_ms.toFixed(0)} ms`,
      `           dispatches/layer ${r.dispatches_per_layer} · readbacks/token ${r.readbacks_per_token.toFixed(2)} · JS ms/token ${r.js_ms_per_token.toFixed(2)}`,
    ];
  }),
  ...[
    ['fused', decode],
    ['unfused', decodeUnfused],
  ].flatMap(([name, d]) => {
    const ms = (d as typeof decode).kernel_ms;
    if (!ms) return [];
    const total = Object.values(ms).reduce((a, b) => a + b, 0);
    return [
      `  ${String(name)} decode step, GPU ms by kernel (total ${total.toFixed(0)}):`,
      ...Object.entries(ms)
        .slice(0, 6)
        .map(([k, v]) => `    ${v.toFixed(1).padStart(8)}  ${k}`),
    ];
  }),
  `  fused ÷ unfused: decode ${(decode.tok_s / decodeUnfused.tok_s).toFixed(2)}×, prefill ${(decode.prefill_tok_s / decodeUnfused.prefill_tok_s).toFixed(2)}× (the engine uses ${engineDefault} kernels on this adapter)`,
  `  long context: ${longContext.long_tok_s.toFixed(2)} tok/s at ${longContext.long_context} tokens ÷ ${longContext.short_tok_s.toFixed(2)} at ${longContext.short_context} = ${longContext.ratio.toFixed(3)} (decode.long_context_ratio)`,
  `  GPU memory ${(decode.gpu_bytes / 2 ** 20).toFixed(1)} MiB for weights+KV ${(decode.weights_plus_kv_bytes / 2 ** 20).toFixed(1)} MiB (ratio ${(decode.gpu_bytes / decode.weights_plus_kv_bytes).toFixed(3)})`,
  '',
  ...(training instanceof Error
    ? [`Training: not measured (${training.message})`]
    : [
        `Training: ${training.model}, ${training.batch}×${training.seq_len} tokens per step`,
        `  WGSL ${training.wgsl_tok_s.toFixed(2)} tok/s · tfjs (CPU) ${training.tfjs_tok_s.toFixed(2)} tok/s · ratio ${training.ratio.toFixed(3)}`,
        `  logits only for answer rows ÷ for every row: ${training.answer_rows_over_all_rows.toFixed(3)} (training.answer_rows_over_all_rows)`,
      ]),
  '',
  ...(server instanceof Error
    ? [`Server: not measured (${server.message})`]
    : [
        `Server: ${server.clients} institutions, ${server.shape.layers}-layer rank-${server.shape.rank} adapters (${server.shape.adapterMB.toFixed(1)} MB each), peak RSS ${server.serverPeakRssMB.toFixed(0)} MB`,
        ...server.rounds.map(
          (r) =>
            `  round ${r.round}: ${r.latencySeconds.toFixed(2)} s (aggregation ${r.aggregationSeconds.toFixed(2)} s, ${r.updatesPerSecond.toFixed(1)} updates/s)`,
        ),
      ]),
  '',
  ...(peers instanceof Error ? [`Peers: not measured (${peers.message})`] : peersTable(peers)),
];
writeFileSync(new URL('./results/latest.txt', import.meta.url), lines.join('\n') + '\n');
console.log(lines.join('\n'));
process.exit(0);
