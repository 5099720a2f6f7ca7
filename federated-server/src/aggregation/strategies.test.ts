import { describe, expect, it } from 'vitest';
import { createStrategy, FedAvg, type Tensors, type UpdateSource } from './strategies.ts';
import type { TensorSpec } from '../../../src/protocol/lora.ts';

// prepare: in-memory update sources (the server streams the same interface from disk); the
// weight here is the server-decided one (the coordinator caps or equalises it), given directly
function source(id: string, weight: number, tensors: Record<string, number[]>): UpdateSource {
  return {
    institutionId: id,
    numExamples: weight,
    weight,
    trainLoss: null,
    evalLoss: null,
    norm: 0,
    readSlice: async (name, start, count) => Float32Array.from(tensors[name]!.slice(start, start + count)),
  };
}
const spec = (name: string, n: number): TensorSpec => ({ name, shape: [n] });
const global = (entries: Record<string, number[]>): Tensors =>
  new Map(Object.entries(entries).map(([k, v]) => [k, Float32Array.from(v)]));

describe('strategies against hand-computed results', () => {
  it('FedAvg weights by example count: (1·[1,2] + 3·[3,6]) / 4 = [2.5, 5]', async () => {
    const s = createStrategy({ name: 'fedavg' });
    const r = await s.aggregateFit({
      global: global({ w: [0, 0] }),
      trained: [spec('w', 2)],
      updates: [source('a', 1, { w: [1, 2] }), source('b', 3, { w: [3, 6] })],
      state: undefined,
    });
    expect(Array.from(r.adapter.get('w')!)).toEqual([2.5, 5]);
  });

  it('streams in chunks with the same result as one pass', async () => {
    const values = Array.from({ length: 10 }, (_, i) => i * 0.5);
    const updates = [source('a', 2, { w: values }), source('b', 1, { w: values.map((x) => -x) })];
    const whole = await new FedAvg().aggregateFit({
      global: global({ w: values }),
      trained: [spec('w', 10)],
      updates,
      state: undefined,
    });
    const chunked = await new FedAvg().aggregateFit({
      global: global({ w: values }),
      trained: [spec('w', 10)],
      updates,
      state: undefined,
      chunk: 3,
    });
    expect(Array.from(chunked.adapter.get('w')!)).toEqual(Array.from(whole.adapter.get('w')!));
    expect(whole.adapter.get('w')![4]).toBeCloseTo(2 / 3, 6); // (2·2 − 2)/3
  });

  it('FedProx aggregates like FedAvg and sends μ to clients', async () => {
    const s = createStrategy({ name: 'fedprox', mu: 0.01 });
    expect(s.configureFit(1)).toEqual({ proximalMu: 0.01, trainA: true });
    const r = await s.aggregateFit({
      global: global({ w: [0] }),
      trained: [spec('w', 1)],
      updates: [source('a', 1, { w: [1] }), source('b', 1, { w: [2] })],
      state: undefined,
    });
    expect(r.adapter.get('w')![0]).toBe(1.5);
  });

  it('median: odd count takes the middle, even count the mean of the middle two', async () => {
    const s = createStrategy({ name: 'median' });
    const r = await s.aggregateFit({
      global: global({ w: [0, 0] }),
      trained: [spec('w', 2)],
      updates: [
        source('a', 1, { w: [1, 1] }),
        source('b', 9, { w: [5, 2] }),
        source('c', 1, { w: [2, 3] }),
        source('d', 1, { w: [10, 4] }),
      ],
      state: undefined,
    });
    expect(Array.from(r.adapter.get('w')!)).toEqual([3.5, 2.5]);
  });

  it('trimmed mean drops ⌊β·n⌋ from each end: β=0.25, n=4 → mean of the middle two', async () => {
    const s = createStrategy({ name: 'trimmed-mean', trimFraction: 0.25 });
    const r = await s.aggregateFit({
      global: global({ w: [0] }),
      trained: [spec('w', 1)],
      updates: [
        source('a', 1, { w: [1] }),
        source('b', 1, { w: [2] }),
        source('c', 1, { w: [3] }),
        source('d', 1, { w: [100] }),
      ],
      state: undefined,
    });
    expect(r.adapter.get('w')![0]).toBe(2.5);
  });

  it('FedAdam: x=0, Δ=1, β₁=.9, β₂=.99, η=.1, τ=.001 → m=.1, v=.01, x=.01/.101', async () => {
    const s = createStrategy({ name: 'fedadam', eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.001 });
    const r = await s.aggregateFit({
      global: global({ w: [0] }),
      trained: [spec('w', 1)],
      updates: [source('a', 1, { w: [1] })],
      state: undefined,
    });
    expect(r.adapter.get('w')![0]).toBeCloseTo(0.01 / 0.101, 6);
    expect(r.state!.get('w.m')![0]).toBeCloseTo(0.1, 7);
    expect(r.state!.get('w.v')![0]).toBeCloseTo(0.01, 7);
  });

  it('FedYogi differs from FedAdam in the second moment: v=.5, Δ=1 → Adam .505, Yogi .51', async () => {
    const opts = { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.001 };
    const input = () => ({
      global: global({ w: [0] }),
      trained: [spec('w', 1)],
      updates: [source('a', 1, { w: [1] })],
      state: global({ 'w.m': [0], 'w.v': [0.5] }),
    });
    const adam = await createStrategy({ name: 'fedadam', ...opts }).aggregateFit(input());
    const yogi = await createStrategy({ name: 'fedyogi', ...opts }).aggregateFit(input());
    expect(adam.state!.get('w.v')![0]).toBeCloseTo(0.505, 6);
    expect(yogi.state!.get('w.v')![0]).toBeCloseTo(0.51, 6);
    expect(yogi.adapter.get('w')![0]).toBeCloseTo((0.1 * 0.1) / (Math.sqrt(0.51) + 0.001), 6);
  });

  it('aggregate_evaluate is the weight-weighted loss of clients that reported one', () => {
    const s = createStrategy({ name: 'fedavg' });
    expect(
      s.aggregateEvaluate([
        { numExamples: 1e9, weight: 1, loss: 2 },
        { numExamples: 3, weight: 3, loss: 4 },
        { numExamples: 5, weight: 5, loss: null },
      ]),
    ).toEqual({ loss: 3.5, numExamples: 1e9 + 8 });
  });
});

describe('FFA-LoRA is exact where averaging A and B separately is not', () => {
  // B is 2×1, A is 1×2 (rank 1): ΔW = B·A is 2×2.
  const matmul = (b: number[], a: number[]) => [b[0]! * a[0]!, b[0]! * a[1]!, b[1]! * a[0]!, b[1]! * a[1]!];
  const mean = (xs: number[][]) => xs[0]!.map((_, i) => xs.reduce((s, x) => s + x[i]!, 0) / xs.length);

  it('FFA: only B is trained, mean(Bᵢ)·A equals mean(Bᵢ·A)', async () => {
    const s = createStrategy({ name: 'ffa-lora' });
    expect(s.configureFit(1).trainA).toBe(false);
    const A = [0.5, -1];
    const B1 = [1, 2];
    const B2 = [3, -4];
    const r = await s.aggregateFit({
      global: global({ A, B: [0, 0] }),
      trained: [spec('B', 2)],
      updates: [source('a', 1, { B: B1 }), source('b', 1, { B: B2 })],
      state: undefined,
    });
    expect(Array.from(r.adapter.get('A')!)).toEqual(A); // frozen
    const aggregated = matmul(Array.from(r.adapter.get('B')!), A);
    expect(aggregated).toEqual(mean([matmul(B1, A), matmul(B2, A)]));
  });

  it('FedAvg over A and B separately misses mean(Bᵢ·Aᵢ) when A differs', async () => {
    const r = await createStrategy({ name: 'fedavg' }).aggregateFit({
      global: global({ A: [0, 0], B: [0, 0] }),
      trained: [spec('A', 2), spec('B', 2)],
      updates: [source('a', 1, { A: [1, 0], B: [1, 0] }), source('b', 1, { A: [0, 1], B: [0, 1] })],
      state: undefined,
    });
    const product = matmul(Array.from(r.adapter.get('B')!), Array.from(r.adapter.get('A')!));
    const truth = mean([matmul([1, 0], [1, 0]), matmul([0, 1], [0, 1])]);
    expect(truth).toEqual([0.5, 0, 0, 0.5]);
    expect(product).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
});

describe('robust strategies bound a poisoned client', () => {
  const honest = [0.9, 1.0, 1.1, 1.0];
  const updates = () => [
    ...honest.map((v, i) => source(`h${i}`, 10, { w: [v] })),
    source('evil', 10, { w: [1000] }),
  ];
  const run = (name: 'fedavg' | 'median' | 'trimmed-mean') =>
    createStrategy(name === 'trimmed-mean' ? { name, trimFraction: 0.2 } : { name })
      .aggregateFit({
        global: global({ w: [1] }),
        trained: [spec('w', 1)],
        updates: updates(),
        state: undefined,
      })
      .then((r) => r.adapter.get('w')![0]!);

  it('FedAvg is dragged far outside the honest range', async () => {
    expect(await run('fedavg')).toBeGreaterThan(200);
  });
  it.each(['median', 'trimmed-mean'] as const)('%s stays within the honest range', async (name) => {
    const v = await run(name);
    expect(v).toBeGreaterThanOrEqual(0.9);
    expect(v).toBeLessThanOrEqual(1.1);
  });
});
