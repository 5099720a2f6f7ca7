// Developer playground: the WebGPU engine in its worker, driven from the page. End-to-end tests use
// `window.dure` to reach the same WorkerEngine the UI uses.
import { WorkerEngine } from '../engine/worker-client.ts';
import { TrainingWorker } from '../training/worker-client.ts';
import { spawnInferenceWorker, spawnTrainingWorker } from '../../workers/spawn.ts';

const engine = new WorkerEngine({ contextLength: 512 }, spawnInferenceWorker());
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const output = $('output');
let current: AbortController | undefined;

(window as unknown as { dure: WorkerEngine }).dure = engine;
// The LoRA training worker, for end-to-end tests (the institution console is its real user).
(window as unknown as { DureTrainingWorker: new () => TrainingWorker }).DureTrainingWorker = class extends (
  TrainingWorker
) {
  constructor() {
    super(spawnTrainingWorker());
  }
};

$<HTMLFormElement>('load').addEventListener('submit', (e) => {
  e.preventDefault();
  const url = $<HTMLInputElement>('model-url').value;
  status.textContent = '불러오는 중… / loading…';
  engine
    .load(url, (p) => (status.textContent = `${p.phase} ${p.loadedBytes}/${p.totalBytes}`))
    .then(
      (info) =>
        (status.textContent = `${info.name} (${info.architecture}) · ${info.backend} · ${info.adapter ?? ''}`),
      (err: Error) => (status.textContent = `오류 / error: ${err.message}`),
    );
});

$<HTMLFormElement>('ask').addEventListener('submit', async (e) => {
  e.preventDefault();
  current?.abort();
  current = new AbortController();
  output.textContent = '';
  try {
    for await (const chunk of engine.generate({
      prompt: $<HTMLInputElement>('prompt').value,
      maxTokens: 64,
      greedy: true,
      signal: current.signal,
    })) {
      output.textContent += chunk.text;
    }
  } catch (err) {
    output.textContent += `\n[오류 / error: ${(err as Error).message}]`;
  }
});

$('stop').addEventListener('click', () => current?.abort());
