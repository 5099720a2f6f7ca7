/**
 * Aggregation strategies, after Flower's `Strategy`: each says how to configure a round for
 * clients and how to aggregate their results, and all share one interface so the round engine
 * never branches on the strategy. The maths is in ./math.ts; this file orchestrates it over
 * streamed updates.
 *
 * LoRA note: every strategy except FFA-LoRA aggregates lora_A and lora_B separately, which is
 * the common practice (FedIT) but only approximates mean(Bᵢ·Aᵢ). FFA-LoRA freezes A at the
 * seeded value, so mean(Bᵢ)·A = mean(Bᵢ·A) exactly; it is the default we recommend.
 */
import type { StrategyConfig } from '../../../src/protocol/schemas.ts';
import type { TensorSpec } from '../../../src/protocol/lora.ts';
import { mapBounded } from './bounded-files.ts';
import { adaptiveStepInto, coordinateMedianInto, trimmedMeanInto } from './math.ts';
import { streamWeightedMean } from './streaming-mean.ts';

/** One accepted update, read lazily so aggregation never holds all updates at once. */
export interface UpdateSource {
  institutionId: string;
  /** What the client reported; never used as a weight on its own (issue #15). */
  numExamples: number;
  /**
   * The update's aggregation weight, decided by the server: 1 each (equal) by default, or
   * min(reported examples, the admin's cap for this institution).
   */
  weight: number;
  trainLoss: number | null;
  evalLoss: number | null;
  norm: number;
  /** `count` float32 values of tensor `name` starting at element `start`. */
  readSlice(name: string, start: number, count: number): Promise<Float32Array>;
}

export type Tensors = Map<string, Float32Array>;

export interface AggregationInput {
  /** The round's global adapter (all tensors). */
  global: Tensors;
  /** The tensors clients send (all of them, or only lora_B in FFA-LoRA). */
  trained: ReadonlyArray<TensorSpec>;
  updates: ReadonlyArray<UpdateSource>;
  /** Server-optimizer state from the previous version (FedAdam/FedYogi), if any. */
  state: Tensors | undefined;
  /** Coordinates per streamed chunk. */
  chunk?: number;
  /**
   * Updates read at once (default 16): the weighted mean's batch size, the robust rules' reads in
   * flight per chunk. With sources that open their file on demand (./bounded-files.ts) this
   * bounds open descriptors whatever the number of updates.
   */
  concurrency?: number;
}

export interface AggregationResult {
  /** The new global adapter (all tensors). */
  adapter: Tensors;
  /** New server-optimizer state, if the strategy keeps one. */
  state?: Tensors;
}

export interface FitConfig {
  proximalMu: number;
  trainA: boolean;
}

export interface EvaluateResult {
  numExamples: number;
  /** The update's server-decided aggregation weight (see UpdateSource.weight). */
  weight: number;
  loss: number | null;
}

export interface Strategy {
  readonly name: StrategyConfig['name'];
  /** What every client is told for this round (Flower: configure_fit). */
  configureFit(round: number): FitConfig;
  /** Combines accepted updates into the next global adapter (Flower: aggregate_fit). */
  aggregateFit(input: AggregationInput): Promise<AggregationResult>;
  /** Whether clients should report held-out loss this round (Flower: configure_evaluate). */
  configureEvaluate(round: number): { evaluate: boolean };
  /** Loss over clients that reported one, by aggregation weight (Flower: aggregate_evaluate). */
  aggregateEvaluate(results: ReadonlyArray<EvaluateResult>): { loss: number | null; numExamples: number };
}

type SliceRule = (out: Float32Array, slices: Float32Array[], weights: number[]) => void;

const DEFAULT_CHUNK = 65_536;
export const DEFAULT_CONCURRENCY = 16;
/**
 * Values held at once by the coordinate-wise rules (median, trimmed mean), which need every
 * update's value of a coordinate together: their chunk shrinks as N grows so N × chunk stays
 * within this (16 MB of float32), at the cost of more, smaller reads.
 */
export const ROBUST_VALUES_IN_FLIGHT = 4 * 1024 * 1024;

/** The global adapter with the trained tensors replaced by `trained`. */
function withTrained(input: AggregationInput, trained: Tensors): Tensors {
  const out: Tensors = new Map(input.global);
  for (const [name, t] of trained) out.set(name, t);
  return out;
}

/**
 * The weighted mean, streamed in bounded batches of updates (./streaming-mean.ts): memory and
 * open files do not grow with the number of updates.
 */
export async function streamMean(input: AggregationInput): Promise<Tensors> {
  const mean = await streamWeightedMean(input.trained, input.updates, {
    chunk: input.chunk ?? DEFAULT_CHUNK,
    concurrency: input.concurrency ?? DEFAULT_CONCURRENCY,
  });
  return withTrained(input, mean);
}

/**
 * Streams every trained tensor through a coordinate-wise `rule` chunk by chunk (every update's
 * slice of a chunk at once, so the chunk is capped at ROBUST_VALUES_IN_FLIGHT ÷ N); untrained
 * tensors are copied from the global adapter.
 */
export async function streamAggregate(input: AggregationInput, rule: SliceRule): Promise<Tensors> {
  if (input.updates.length === 0) throw new RangeError('no updates to aggregate');
  const chunk = Math.min(
    input.chunk ?? DEFAULT_CHUNK,
    Math.max(1, Math.floor(ROBUST_VALUES_IN_FLIGHT / input.updates.length)),
  );
  const concurrency = input.concurrency ?? DEFAULT_CONCURRENCY;
  const weights = input.updates.map((u) => u.weight);
  const out: Tensors = new Map();
  for (const [name, g] of input.global) out.set(name, g);
  for (const spec of input.trained) {
    const size = spec.shape.reduce((a, d) => a * d, 1);
    const t = new Float32Array(size);
    for (let start = 0; start < size; start += chunk) {
      const count = Math.min(chunk, size - start);
      const slices = await mapBounded(input.updates, concurrency, (u) =>
        u.readSlice(spec.name, start, count),
      );
      rule(t.subarray(start, start + count), slices, weights);
    }
    out.set(spec.name, t);
  }
  return out;
}

function weightedLoss(results: ReadonlyArray<EvaluateResult>) {
  const withLoss = results.filter((r) => r.loss !== null && Number.isFinite(r.loss));
  const w = withLoss.reduce((a, r) => a + r.weight, 0);
  return {
    loss: w > 0 ? withLoss.reduce((a, r) => a + r.weight * r.loss!, 0) / w : null,
    numExamples: results.reduce((a, r) => a + r.numExamples, 0),
  };
}

abstract class BaseStrategy implements Strategy {
  abstract readonly name: StrategyConfig['name'];
  configureFit(_round: number): FitConfig {
    return { proximalMu: 0, trainA: true };
  }
  abstract aggregateFit(input: AggregationInput): Promise<AggregationResult>;
  configureEvaluate(_round: number) {
    return { evaluate: true };
  }
  aggregateEvaluate(results: ReadonlyArray<EvaluateResult>) {
    return weightedLoss(results);
  }
}

/**
 * FedAvg (McMahan et al., 2017): mean weighted by the server-decided weight (equal by default, or
 * example counts capped by the admin), never by a client's self-reported count alone.
 */
export class FedAvg extends BaseStrategy {
  readonly name: StrategyConfig['name'] = 'fedavg';
  async aggregateFit(input: AggregationInput): Promise<AggregationResult> {
    return { adapter: await streamMean(input) };
  }
}

/** FedProx (Li et al., 2020): FedAvg on the server; clients add (μ/2)‖w − w_global‖². */
export class FedProx extends FedAvg {
  override readonly name = 'fedprox';
  constructor(private readonly mu: number) {
    super();
  }
  override configureFit(_round: number): FitConfig {
    return { proximalMu: this.mu, trainA: true };
  }
}

/** FFA-LoRA (Sun et al., 2024): A frozen at the seeded value, only B trained and averaged — exact. */
export class FfaLora extends FedAvg {
  override readonly name = 'ffa-lora';
  override configureFit(_round: number): FitConfig {
    return { proximalMu: 0, trainA: false };
  }
}

/** Coordinate-wise median (Yin et al., 2018): robust to a minority of poisoned clients. */
export class Median extends BaseStrategy {
  readonly name = 'median';
  async aggregateFit(input: AggregationInput): Promise<AggregationResult> {
    return { adapter: await streamAggregate(input, (out, s) => coordinateMedianInto(out, s)) };
  }
}

/** Coordinate-wise trimmed mean (Yin et al., 2018). */
export class TrimmedMean extends BaseStrategy {
  readonly name = 'trimmed-mean';
  constructor(private readonly trimFraction: number) {
    super();
  }
  async aggregateFit(input: AggregationInput): Promise<AggregationResult> {
    return { adapter: await streamAggregate(input, (out, s) => trimmedMeanInto(out, s, this.trimFraction)) };
  }
}

/** FedAdam / FedYogi (Reddi et al., 2021): an adaptive server optimizer on the mean pseudo-gradient. */
export class FedAdaptive extends BaseStrategy {
  constructor(
    readonly name: 'fedadam' | 'fedyogi',
    private readonly opts: { eta: number; beta1: number; beta2: number; tau: number },
  ) {
    super();
  }
  async aggregateFit(input: AggregationInput): Promise<AggregationResult> {
    const mean = await streamMean(input);
    const adapter: Tensors = new Map(input.global);
    const state: Tensors = new Map();
    for (const spec of input.trained) {
      const x = Float32Array.from(input.global.get(spec.name)!);
      const m = Float32Array.from(input.state?.get(`${spec.name}.m`) ?? new Float32Array(x.length));
      const v = Float32Array.from(input.state?.get(`${spec.name}.v`) ?? new Float32Array(x.length));
      adaptiveStepInto(this.name === 'fedadam' ? 'adam' : 'yogi', x, mean.get(spec.name)!, m, v, this.opts);
      adapter.set(spec.name, x);
      state.set(`${spec.name}.m`, m);
      state.set(`${spec.name}.v`, v);
    }
    return { adapter, state };
  }
}

/** The strategy object for a task's configuration. */
export function createStrategy(config: StrategyConfig): Strategy {
  switch (config.name) {
    case 'fedavg':
      return new FedAvg();
    case 'fedprox':
      return new FedProx(config.mu);
    case 'fedadam':
    case 'fedyogi':
      return new FedAdaptive(config.name, config);
    case 'median':
      return new Median();
    case 'trimmed-mean':
      return new TrimmedMean(config.trimFraction);
    case 'ffa-lora':
      return new FfaLora();
  }
}
