/**
 * An institution's part in a secure round (src/protocol/secagg, SecAgg+): after training, the
 * clipped update is never sent; the client advertises fresh keys under a per-round pseudonym,
 * shares its secrets with its roster neighbours, sends its update quantized, noised (its share of
 * the task's distributed DP noise) and masked, and finally reveals only the shares the unmask
 * request may ask for. The noise level and fixed-point range come from the task (instructions),
 * never from the round's roster: a roster that disagrees is refused.
 *
 * Secrets live in memory only: a client that reloads mid-protocol has dropped out of that round
 * (the others' sum is still exact) and trains again for the next.
 */
import {
  SecAggClient,
  decodeVector,
  quantize,
  vectorToBytes,
  type Roster,
} from '../protocol/secagg/index.ts';
import { addSkellamModular } from '../protocol/privacy/index.ts';
import {
  dpPlan,
  flattenDelta,
  newPseudonym,
  roundQuantization,
  vectorLength,
  type SecureFit,
  type SecurePhase,
  type SecureRoundView,
} from '../protocol/secure-round.ts';
import type { NamedTensor } from '../protocol/safetensors.ts';
import { sha256Hex } from '../protocol/signing.ts';
import {
  AdapterIntegrityError,
  RoundAbortedError,
  ServerRefusedError,
  TrainerContractError,
} from './errors.ts';

/** The signed requests a secure round needs (the round client provides them). */
export interface SecureTransport {
  view(): Promise<SecureRoundView>;
  post(phase: 'advertise' | 'share' | 'unmask', body: unknown): Promise<void>;
  postMasked(bytes: Uint8Array): Promise<void>;
  sleep(ms: number): Promise<void>;
}

export type SecureStep = 'advertise' | 'share' | 'mask' | 'unmask' | 'wait-result';

export type SecureOutcome =
  { kind: 'contributed'; maskedSha256: string; cohort: number } | { kind: 'missed'; reason: string };

export interface SecureContributionInput {
  fit: SecureFit;
  /** The task's L2 bound; the update is already clipped to it. */
  maxUpdateNorm: number;
  /** The trained tensors as sent (clipped), and the round's global adapter. */
  tensors: readonly NamedTensor[];
  global: ReadonlyMap<string, Float32Array>;
  transport: SecureTransport;
  pollMs: number;
  signal?: AbortSignal;
  onStep?: (step: SecureStep) => void;
}

/** Same fixed-point parameters, field by field. */
function sameQuantization(a: Roster['quantization'], b: Roster['quantization']): boolean {
  return (
    a.clip === b.clip &&
    a.scaleBits === b.scaleBits &&
    a.maxClients === b.maxClients &&
    a.noiseBound === b.noiseBound
  );
}

/**
 * Runs the secure phases of one round for an update already built and clipped.
 * @throws {TrainerContractError} when the update does not have the task's shape.
 * @throws {AdapterIntegrityError} when the server's roster contradicts the task (noise, range).
 * @throws {RoundAbortedError} when `signal` aborts.
 * @throws the protocol's typed errors (SecAggProtocolError, SecAggCryptoError) when the server or
 *   a peer breaks the protocol; nothing secret is sent after one.
 */
export async function contributeSecurely(input: SecureContributionInput): Promise<SecureOutcome> {
  try {
    return await contribute(input);
  } catch (err) {
    // The round went on without this client (a phase closed while it worked): a missed round.
    if (err instanceof ServerRefusedError && MOVED_ON.has(err.serverCode))
      return { kind: 'missed', reason: err.serverCode };
    throw err;
  }
}

/** Server refusals meaning the round no longer takes this client's part. */
const MOVED_ON = new Set(['SECAGG_PHASE_CLOSED', 'LATE_UPDATE', 'WRONG_ROUND']);

async function contribute(input: SecureContributionInput): Promise<SecureOutcome> {
  const { fit, transport } = input;
  if (vectorLength(input.tensors) !== fit.vectorLength)
    throw new TrainerContractError(
      `the update has ${vectorLength(input.tensors)} coordinates, the task ${fit.vectorLength}`,
    );
  const delta = flattenDelta(
    input.tensors,
    new Map(input.tensors.map((t) => [t.name, t.data as Float32Array])),
    input.global,
  );
  const plan = dpPlan(fit, input.maxUpdateNorm);
  const client = new SecAggClient(fit.roundId, newPseudonym());
  const check = () => {
    if (input.signal?.aborted) throw new RoundAbortedError();
  };
  // Waits for the round to reach `phase` (or later) and returns the view; null if it went on without us.
  const until = async (
    ready: (v: SecureRoundView) => boolean,
    step: SecureStep,
  ): Promise<SecureRoundView | null> => {
    input.onStep?.(step);
    for (;;) {
      check();
      const v = await transport.view();
      if (ready(v)) return v;
      if (v.phase === 'failed' || v.phase === 'done') return null;
      await transport.sleep(input.pollMs);
    }
  };
  const later = (v: SecureRoundView, phase: SecurePhase) =>
    ['advertise', 'share', 'mask', 'unmask', 'done', 'failed'].indexOf(v.phase) >
    ['advertise', 'share', 'mask', 'unmask', 'done', 'failed'].indexOf(phase);

  input.onStep?.('advertise');
  await transport.post('advertise', client.advertiseKeys());

  const withRoster = await until((v) => v.roster !== null || later(v, 'share'), 'share');
  if (!withRoster?.roster)
    return { kind: 'missed', reason: withRoster?.failureReason ?? 'not in the round roster' };
  const roster = withRoster.roster;
  const expected = roundQuantization(fit, input.maxUpdateNorm, roster.participants.length, plan);
  if (!sameQuantization(roster.quantization, expected) || roster.vectorLength !== fit.vectorLength)
    throw new AdapterIntegrityError("the round's roster does not match the task's noise and range settings");
  await transport.post('share', client.shareKeys(roster));

  const withDelivery = await until((v) => v.delivery !== null || later(v, 'mask'), 'mask');
  if (!withDelivery?.delivery)
    return { kind: 'missed', reason: withDelivery?.failureReason ?? 'the round moved on before masking' };
  const q = quantize(delta, roster.quantization, { assumeL2Clipped: true });
  if (plan) addSkellamModular(q, plan.localVariance); // this client's share of the task's DP noise
  const bytes = vectorToBytes(decodeVector(client.maskInput(withDelivery.delivery, q)));
  q.fill(0);
  await transport.postMasked(bytes);
  const maskedSha256 = await sha256Hex(bytes);

  const withRequest = await until((v) => v.unmaskRequest !== null || later(v, 'unmask'), 'unmask');
  if (!withRequest?.unmaskRequest)
    return { kind: 'missed', reason: withRequest?.failureReason ?? 'the round moved on before unmasking' };
  await transport.post('unmask', client.unmask(withRequest.unmaskRequest));
  input.onStep?.('wait-result');
  return { kind: 'contributed', maskedSha256, cohort: roster.participants.length };
}
