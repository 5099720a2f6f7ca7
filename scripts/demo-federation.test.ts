/**
 * The federation demo, short ("a short version runs in CI", issues #8 and #15): the real server,
 * five institutions running the round client with Dure's WebGPU LoRA trainer (Dawn on
 * SwiftShader) on a tiny generated Korean-vocabulary llama, two FFA-LoRA rounds under secure
 * aggregation, one institution closing its page after sending its masked input in round 1 (its
 * masks are removed through the others' shares) and coming back for round 2. Each institution's
 * held-out loss under the last global adapter must be lower than under the starting one, and the
 * registry must have advanced one version per round. (DP at ε = 8 is measured by the same demo
 * with --dp-epsilon and by federated-server/src/secure-aggregation.test.ts; at this cohort size its
 * noise outweighs two quick steps of training, see README.)
 */
import { describe, expect, it } from 'vitest';
import { testTrainingGpu } from '../src/testing/node-gpu.ts';
import { testModelPath } from '../src/testing/test-models.ts';
import { participants, runFederationDemo, summary } from './demo-federation.ts';

const ROUNDS = 2;

describe('federation demo (short)', () => {
  it(
    'five institutions under secure aggregation, one dropping after masking: every held-out loss falls',
    { timeout: 1_200_000 },
    async () => {
      const { device } = await testTrainingGpu();
      const lines: string[] = [];
      const r = await runFederationDemo({
        device,
        modelPath: await testModelPath({ arch: 'llama', quant: 'Q8_0', tokenizer: 'corpus-bpe' }),
        institutions: 5,
        secureAggregation: true,
        dropout: 1,
        phaseSeconds: 10,
        rounds: ROUNDS,
        steps: 2,
        trainExamples: 6,
        testExamples: 2,
        maxSeqLen: 48,
        batchSize: 1,
        learningRate: 3e-2,
        strategies: ['ffa-lora'],
        log: (l) => lines.push(l),
      });
      const s = r.strategies[0]!;
      expect(s.versions).toEqual(Array.from({ length: ROUNDS + 1 }, (_, v) => v));
      for (const { id } of participants(5)) {
        const losses = s.heldOut[id]!;
        expect(losses).toHaveLength(ROUNDS + 1);
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(losses[ROUNDS]!, `${id}: ${losses.join(' → ')}`).toBeLessThan(losses[0]!);
      }
      // The one that dropped took part in round 2 only; the others in both.
      expect(s.local['hospital-2']!.map((l) => l.round)).toEqual([2]);
      expect(s.local['civil']!.map((l) => l.round)).toEqual([1, 2]);
      const json = summary(r);
      expect(json).toMatchObject({
        secure_aggregation: true,
        dropped: 1,
        rounds: ROUNDS,
        institutions: 5,
        dp: null,
      });
      expect(r.latest.version).toBe(ROUNDS);
      expect(lines.some((l) => l.includes('dropped out after masking'))).toBe(true);
    },
  );
});
