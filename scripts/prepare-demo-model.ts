/**
 * Makes sure the demo portal has a model at public/models/demo.gguf before `npm start` builds the
 * PWA. The repository ships Dure's trained Korean demo model there (`npm run train:demo-model`,
 * described in public/models/demo.json); only when the file is missing — a checkout without it —
 * is a placeholder generated: the tiny random-weight llama model with the same Korean BPE
 * vocabulary, so the whole path (download, verify, WebGPU worker, streaming) still runs.
 *
 * `DURE_MODEL=path/to/file.gguf npm start` first checks and registers that file exactly as
 * `npx dure models add` does (public/models/<id>.gguf, <id>.json, registry.json), so the demo
 * portal loads it; a file Dure's WebGPU engine would refuse stops the start with the reason.
 */
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { refusalText } from '../src/model-manager/refusal-text.ts';
import { registerModel } from '../src/node/model-registry.ts';
import { DureError } from '../src/protocol/errors.ts';
import { testModelPath } from '../src/testing/test-models.ts';

const chosen = process.env['DURE_MODEL'];
if (chosen) {
  try {
    const r = await registerModel(chosen, {
      dir: fileURLToPath(new URL('../public/models/', import.meta.url)),
    });
    const license = r.descriptor.license.name ?? r.descriptor.license.id ?? 'licence not stated in the file';
    console.log(
      `DURE_MODEL: ${r.descriptor.name} (${license}) → /models/${r.descriptor.file}, the demo portal's model`,
    );
  } catch (e) {
    if (!(e instanceof DureError)) throw e;
    // The operator's file was refused: say why (Korean, then the typed code) and stop the start.
    console.error(`DURE_MODEL ${chosen}: ${refusalText(e, 'ko', 'operator')}\nerror ${e.code}: ${e.message}`);
    process.exit(1);
  }
}

const target = new URL('../public/models/demo.gguf', import.meta.url);
const info = new URL('../public/models/demo.json', import.meta.url);
const exists = await stat(target).then(
  (s) => s.isFile() && s.size > 0,
  () => false,
);
if (!exists) {
  await mkdir(new URL('../public/models/', import.meta.url), { recursive: true });
  const source = await testModelPath({ arch: 'llama', quant: 'Q8_0' });
  await copyFile(source, target);
  console.log(
    `demo model: missing, so a placeholder (random weights, Korean vocabulary) → public/models/demo.gguf`,
  );
} else {
  const described = await readFile(info, 'utf8').then(
    (text) => JSON.parse(text) as { evaluation?: { perplexityDure?: number } },
    () => null,
  );
  const ppl = described?.evaluation?.perplexityDure;
  console.log(
    `demo model: public/models/demo.gguf${ppl ? ` (Dure's trained Korean model, validation perplexity ${ppl.toFixed(1)})` : ''}`,
  );
}
