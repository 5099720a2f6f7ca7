/**
 * How a federated round runs under secure aggregation and distributed DP, as client and server
 * both see it: the round's public view (which phase, the roster, this client's share delivery, the
 * unmask request), the layout of the update vector, and the parameters both sides derive from the
 * signed task alone — so a client never takes its noise level or its clipping range from what the
 * server says in the round, only from the task it joined.
 *
 * Phases (src/protocol/secagg): advertise keys → share keys → masked input → unmask. A client
 * trains first and advertises only when its update is ready, so the three short phases after the
 * roster is fixed take seconds, and a client that drops in them is recovered from (threshold t).
 * Clients take part under a fresh random pseudonym per round: peers learn the cohort's size and
 * keys, never which institutions are in it.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { TensorSpec } from './lora.ts';
import {
  MAX_PARTICIPANTS,
  RosterSchema,
  ShareDeliverySchema,
  UnmaskRequestSchema,
  COMPLETE_GRAPH_UP_TO,
  defaultDegree,
  effectiveDegree,
  checkQuantizationParams,
  type QuantizationParams,
} from './secagg/index.ts';
import { planSkellam, type SkellamPlan } from './privacy/index.ts';
import { toBase64Url } from './base64url.ts';

export const SecurePhaseSchema = Type.Union([
  Type.Literal('advertise'),
  Type.Literal('share'),
  Type.Literal('mask'),
  Type.Literal('unmask'),
  Type.Literal('done'),
  Type.Literal('failed'),
]);
export type SecurePhase = Static<typeof SecurePhaseSchema>;

/** What the task says about privacy, as clients receive it in their fit instructions. */
export const SecureFitSchema = Type.Object({
  /** The secure-aggregation round id every phase message carries. */
  roundId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  /** Coordinates of the update vector (the trained tensors, flattened in spec order). */
  vectorLength: Type.Integer({ minimum: 1 }),
  /** Fixed-point scale 2^scaleBits of the task. */
  scaleBits: Type.Integer({ minimum: 0, maximum: 30 }),
  /** The task's minimum cohort k (the DP plan assumes the threshold at k). */
  minCohort: Type.Integer({ minimum: 2 }),
  rounds: Type.Integer({ minimum: 1 }),
  dp: Type.Union([
    Type.Null(),
    Type.Object({ epsilon: Type.Number(), delta: Type.Number() }, { additionalProperties: false }),
  ]),
});
export type SecureFit = Static<typeof SecureFitSchema>;

/** A client's view of the secure phases of its round (`GET …/rounds/:n/secure`). */
export const SecureRoundViewSchema = Type.Object({
  phase: SecurePhaseSchema,
  /** When the current phase ends (ISO time). */
  phaseDeadline: Type.String(),
  /** This institution's state in the round. */
  you: Type.Object({
    advertised: Type.Boolean(),
    shared: Type.Boolean(),
    masked: Type.Boolean(),
    unmasked: Type.Boolean(),
  }),
  roster: Type.Union([Type.Null(), RosterSchema]),
  delivery: Type.Union([Type.Null(), ShareDeliverySchema]),
  unmaskRequest: Type.Union([Type.Null(), UnmaskRequestSchema]),
  failureReason: Type.Union([Type.Null(), Type.String()]),
});
export type SecureRoundView = Static<typeof SecureRoundViewSchema>;

/** A task's DP budget as the server reports it to members and admins (null without DP). */
export interface PrivacyBudgetView {
  epsilon: number;
  delta: number;
  epsilonSpent: number;
  epsilonLeft: number;
  roundsRun: number;
  roundsLeft: number;
  /** Standard deviation of the DP noise per coordinate of a released sum, in model units (at the threshold). */
  noiseStdPerCoordinate: number;
}

/** Fixed-point scale for tasks with DP noise (the noise, not rounding, dominates the error). */
export const DP_SCALE_BITS = 16;
/** Fixed-point scale without DP: rounding error < 2^-20 per coordinate and client. */
export const PLAIN_SCALE_BITS = 20;
/** Noise words are bounded for the headroom check at this many local standard deviations. */
export const NOISE_BOUND_SIGMAS = 10;

/** The secure-aggregation round id of a task's round (an Id: letters, digits, _ and -). */
export const secureRoundId = (taskId: string, round: number): string => `${taskId}-r${round}`;

/** A fresh per-round pseudonym a client takes part under. */
export const newPseudonym = (): string => `c_${toBase64Url(crypto.getRandomValues(new Uint8Array(12)))}`;

/**
 * The least secure-aggregation threshold any roster of n ≥ k clients gets (n up to the library's
 * maximum): the fewest noise shares a released sum can carry.
 */
export function minThreshold(k: number): number {
  let least = Infinity;
  const upTo = Math.min(MAX_PARTICIPANTS, Math.max(k, COMPLETE_GRAPH_UP_TO * 4));
  for (let n = k; n <= upTo; n++) {
    const holders = effectiveDegree(n, defaultDegree(n)) + 1;
    least = Math.min(least, Math.floor(holders / 2) + 1);
  }
  return least;
}

/**
 * The task's distributed-Skellam plan: L2 clip = the task's update bound, scale 2^scaleBits,
 * d = vectorLength, stochastic rounding, and noise shares for the least threshold at k.
 * @throws {PrivacyParameterError} when the target cannot be met.
 */
export function dpPlan(fit: SecureFit, clipNorm: number): SkellamPlan | null {
  if (!fit.dp) return null;
  return planSkellam({
    epsilon: fit.dp.epsilon,
    delta: fit.dp.delta,
    rounds: fit.rounds,
    clipNorm,
    scale: 2 ** fit.scaleBits,
    dimension: fit.vectorLength,
    rounding: { kind: 'stochastic' },
    minNoisyClients: minThreshold(fit.minCohort),
  });
}

/**
 * Fixed-point parameters of a round with `clients` in its roster: per-coordinate clip = the L2
 * bound (an L2-clipped vector has no larger coordinate), the task's scale, and room for the noise.
 * @throws {QuantizationError} QUANT_HEADROOM when the sum could wrap.
 */
export function roundQuantization(
  fit: SecureFit,
  clipNorm: number,
  clients: number,
  plan: SkellamPlan | null,
): QuantizationParams {
  const q: QuantizationParams = {
    clip: clipNorm,
    scaleBits: fit.scaleBits,
    maxClients: clients,
    noiseBound: plan ? Math.ceil(NOISE_BOUND_SIGMAS * Math.sqrt(plan.localVariance)) : 0,
  };
  checkQuantizationParams(q);
  return q;
}

/** Coordinates of the update vector: the trained tensors' sizes. */
export const vectorLength = (trained: readonly TensorSpec[]): number =>
  trained.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);

/** The vector's layout: tensors by name, so client and server agree whatever order they hold them in. */
const layout = (trained: readonly TensorSpec[]): TensorSpec[] =>
  [...trained].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** Flattens `update − global` of the trained tensors, in layout order. */
export function flattenDelta(
  trained: readonly TensorSpec[],
  update: ReadonlyMap<string, Float32Array>,
  global: ReadonlyMap<string, Float32Array>,
): Float64Array {
  const out = new Float64Array(vectorLength(trained));
  let at = 0;
  for (const s of layout(trained)) {
    const u = update.get(s.name);
    const g = global.get(s.name);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (!u || !g || u.length !== n || g.length !== n)
      throw new RangeError(`tensor ${s.name} is missing or mis-sized`);
    for (let i = 0; i < n; i++) out[at + i] = u[i]! - g[i]!;
    at += n;
  }
  return out;
}

/** Splits a flat vector back into the trained tensors (layout order). */
export function unflatten(trained: readonly TensorSpec[], flat: Float32Array): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let at = 0;
  for (const s of layout(trained)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    out.set(s.name, flat.slice(at, at + n));
    at += n;
  }
  if (at !== flat.length) throw new RangeError(`vector has ${flat.length} coordinates, the tensors ${at}`);
  return out;
}
