/**
 * The federation demo, short (issue #8, item 6, "a test runs a short version in CI"): the real
 * server, three institutions running the round client with Dure's WebGPU LoRA trainer (Dawn on
 * SwiftShader) on a tiny generated Korean-vocabulary llama, two rounds of FedAvg then of
 * FFA-LoRA. Each institution's held-out loss under the last global adapter must be lower than
 * under the starting one, and the registry must have advanced one version per round.
 */
import { describe, expect, it } from 'vitest';
import { INSTITUTIONS } from './datasets/institutions.ts';
import { testGpu } from '../src/testing/node-gpu.ts';
import { testModelPath } from '../src/testing/test-models.ts';
import { runFederationDemo } from './demo-federation.ts';

const ROUNDS = 2;

describe('federation demo (short)', () => {
  it(
    'lowers every institution’s held-out loss over FedAvg and FFA-LoRA rounds',
    { timeout: 1_200_000 },
    async () => {
      const { device } = await testGpu();
      const lines: string[] = [];
      const r = await runFederationDemo({
        device,
        modelPath: await testModelPath({ arch: 'llama', quant: 'Q8_0', tokenizer: 'corpus-bpe' }),
        rounds: ROUNDS,
        steps: 2,
        trainExamples: 6,
        testExamples: 2,
        maxSeqLen: 48,
        batchSize: 1,
        learningRate: 3e-2,
        strategies: ['fedavg', 'ffa-lora'],
        log: (l) => lines.push(l),
      });
      expect(r.strategies.map((s) => s.strategy)).toEqual(['fedavg', 'ffa-lora']);
      for (const s of r.strategies) {
        expect(s.versions).toEqual(Array.from({ length: ROUNDS + 1 }, (_, v) => v));
        for (const name of INSTITUTIONS) {
          const losses = s.heldOut[name];
          expect(losses).toHaveLength(ROUNDS + 1);
          expect(losses.every(Number.isFinite)).toBe(true);
          expect(losses[ROUNDS]!, `${s.strategy} ${name}: ${losses.join(' → ')}`).toBeLessThan(losses[0]!);
          expect(s.local[name].map((l) => l.round)).toEqual([1, 2]);
        }
      }
      expect(r.latest.version).toBe(ROUNDS);
      expect(lines.some((l) => l.includes('held-out loss (ffa-lora)'))).toBe(true);
    },
  );
});
