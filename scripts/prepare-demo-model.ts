/**
 * Makes sure the demo portal has a model at public/models/demo.gguf before `npm start` builds the
 * PWA. Until Dure's trained Korean demo model is committed (issue #8), this is a placeholder: the
 * tiny random-weight llama model with the Korean BPE vocabulary learned from ../shared/corpus (or,
 * without it, Dure's own fixtures), so the whole path — download, verify, WebGPU worker, streaming — runs, and
 * the output is Korean-looking babble.
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { testModelPath } from '../src/testing/test-models.ts';

const target = new URL('../public/models/demo.gguf', import.meta.url);
const exists = await stat(target).then(
  () => true,
  () => false,
);
if (!exists) {
  await mkdir(new URL('../public/models/', import.meta.url), { recursive: true });
  const source = await testModelPath({ arch: 'llama', quant: 'Q8_0' });
  await copyFile(source, target);
  console.log(`demo model: placeholder (random weights, Korean vocabulary) → public/models/demo.gguf`);
} else {
  console.log('demo model: public/models/demo.gguf');
}
