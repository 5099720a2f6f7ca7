/**
 * An institution's part in a secure round (src/protocol/secagg, SecAgg+): after training, the
 * clipped update is never sent; the client advertises fresh keys under a per-round pseudonym,
 * shares its secrets with its roster neighbours, sends its update quantized, noised (its share of
 * the task's distributed DP noise) and masked, and finally reveals only the shares the unmask
 * request may ask for. The noise level and fixed-point range come from the task (instructions),
 * never from the round's roster: a roster that disagrees is refused.
 *
 * The phases are one resumable state machine ({@link SecureSession}) that any transport drives:
 * `contributeSecurely` polls it over the signed HTTP API (console, Node demo); an air-gapped
 * institution drives it one phase at a time from files (src/fl/airgap-institution.ts), saving its
 * state between phases. Over HTTP the secrets live in memory only: a client that reloads
 * mid-protocol has dropped out of that round (the others' sum is still exact) and trains again.
 */
import {
  SecAggClient,
  type SecAggClientState,
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
import { fromBase64Url, toBase64Url } from '../protocol/base64url.ts';
import { SecAggProtocolError } from '../protocol/errors.ts';
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

/** One message of this client to the server. */
export type SecureOutgoing =
  { phase: 'advertise' | 'share' | 'unmask'; body: unknown } | { phase: 'masked'; bytes: Uint8Array };

/** What a session does with a view of the round. */
export type SecureNext =
  { kind: 'send'; message: SecureOutgoing } | { kind: 'wait' } | { kind: 'over'; outcome: SecureOutcome };

/** A session between phases, as JSON; it holds the round's secrets and the plaintext update. */
export interface SecureSessionState {
  version: 1;
  /** The step this session takes next ('wait-result' once its last message is out). */
  step: SecureStep;
  fit: SecureFit;
  maxUpdateNorm: number;
  /** The update minus the global adapter, float64 little-endian, base64url; dropped once masked. */
  delta: string | null;
  client: SecAggClientState;
  maskedSha256: string | null;
  cohort: number | null;
}

const ORDER = ['advertise', 'share', 'mask', 'unmask', 'done', 'failed'];
const later = (v: SecureRoundView, phase: SecurePhase) => ORDER.indexOf(v.phase) > ORDER.indexOf(phase);

/**
 * One institution's part in one secure round, step by step: `next(view)` answers the server's view
 * of the round with the message the current step needs, 'wait' when the round is not there yet,
 * or the outcome when the round went on without this client. `state()` / `restore()` carry it
 * across process restarts.
 */
export class SecureSession {
  private constructor(
    private readonly fit: SecureFit,
    private readonly maxUpdateNorm: number,
    private delta: Float64Array | null,
    private readonly client: SecAggClient,
    private current: SecureStep,
    private maskedSha256: string | null,
    private cohort: number | null,
  ) {}

  /**
   * A session for an update already built and clipped.
   * @throws {TrainerContractError} when the update does not have the task's shape or exceeds its bound.
   */
  static start(
    fit: SecureFit,
    maxUpdateNorm: number,
    tensors: readonly NamedTensor[],
    global: ReadonlyMap<string, Float32Array>,
  ): SecureSession {
    if (vectorLength(tensors) !== fit.vectorLength)
      throw new TrainerContractError(
        `the update has ${vectorLength(tensors)} coordinates, the task ${fit.vectorLength}`,
      );
    let delta: Float64Array;
    try {
      delta = flattenDelta(tensors, new Map(tensors.map((t) => [t.name, t.data as Float32Array])), global);
    } catch (err) {
      throw new TrainerContractError(`the update does not fit the global adapter: ${(err as Error).message}`);
    }
    // Refused now, before advertising, rather than at masking (where the quantizer would refuse it
    // and the round would count this client as dropped): an update from a file may be unclipped.
    const norm = Math.sqrt(delta.reduce((a, x) => a + x * x, 0));
    if (!(norm <= maxUpdateNorm * (1 + 1e-6)))
      throw new TrainerContractError(
        `the update's L2 norm ${norm} exceeds the task's bound ${maxUpdateNorm}`,
      );
    const client = new SecAggClient(fit.roundId, newPseudonym());
    return new SecureSession(fit, maxUpdateNorm, delta, client, 'advertise', null, null);
  }

  /**
   * A session continuing from `state()`.
   * @throws {SecAggProtocolError} for a state that is malformed or inconsistent.
   */
  static restore(state: SecureSessionState): SecureSession {
    const steps: SecureStep[] = ['advertise', 'share', 'mask', 'unmask', 'wait-result'];
    if (state?.version !== 1 || !steps.includes(state.step))
      throw new SecAggProtocolError('saved secure-round state: unknown version or step');
    let delta: Float64Array | null = null;
    if (state.delta !== null) {
      const bytes = fromBase64Url(state.delta);
      if (!bytes || bytes.length !== state.fit.vectorLength * 8)
        throw new SecAggProtocolError('saved secure-round state: the update is malformed');
      delta = new Float64Array(bytes.buffer, bytes.byteOffset, state.fit.vectorLength).slice();
    }
    return new SecureSession(
      state.fit,
      state.maxUpdateNorm,
      delta,
      SecAggClient.restore(state.client),
      state.step,
      state.maskedSha256,
      state.cohort,
    );
  }

  state(): SecureSessionState {
    return {
      version: 1,
      step: this.current,
      fit: this.fit,
      maxUpdateNorm: this.maxUpdateNorm,
      delta: this.delta
        ? toBase64Url(new Uint8Array(this.delta.buffer, this.delta.byteOffset, this.delta.byteLength))
        : null,
      client: this.client.exportState(),
      maskedSha256: this.maskedSha256,
      cohort: this.cohort,
    };
  }

  get step(): SecureStep {
    return this.current;
  }

  get roundId(): string {
    return this.fit.roundId;
  }

  /** The outcome once every message is out. */
  get outcome(): SecureOutcome | null {
    return this.current === 'wait-result'
      ? { kind: 'contributed', maskedSha256: this.maskedSha256!, cohort: this.cohort! }
      : null;
  }

  /**
   * The next message for this view (the first step, advertising, needs none).
   * @throws {AdapterIntegrityError} when the server's roster contradicts the task (noise, range).
   * @throws the protocol's typed errors (SecAggProtocolError, SecAggCryptoError).
   */
  async next(v: SecureRoundView | null): Promise<SecureNext> {
    const missed = (reason: string): SecureNext => ({ kind: 'over', outcome: { kind: 'missed', reason } });
    switch (this.current) {
      case 'advertise':
        this.current = 'share';
        return { kind: 'send', message: { phase: 'advertise', body: this.client.advertiseKeys() } };
      case 'share': {
        if (!v) return { kind: 'wait' };
        if (!v.roster && !later(v, 'share')) return { kind: 'wait' };
        if (!v.roster) return missed(v.failureReason ?? 'not in the round roster');
        const roster = v.roster;
        const plan = dpPlan(this.fit, this.maxUpdateNorm);
        const expected = roundQuantization(this.fit, this.maxUpdateNorm, roster.participants.length, plan);
        if (!sameQuantization(roster.quantization, expected) || roster.vectorLength !== this.fit.vectorLength)
          throw new AdapterIntegrityError(
            "the round's roster does not match the task's noise and range settings",
          );
        const body = this.client.shareKeys(roster);
        this.cohort = roster.participants.length;
        this.current = 'mask';
        return { kind: 'send', message: { phase: 'share', body } };
      }
      case 'mask': {
        if (!v) return { kind: 'wait' };
        if (!v.delivery && !later(v, 'mask')) return { kind: 'wait' };
        if (!v.delivery) return missed(v.failureReason ?? 'the round moved on before masking');
        const roster = this.client.exportState().roster!;
        const plan = dpPlan(this.fit, this.maxUpdateNorm);
        const q = quantize(this.delta!, roster.quantization, { assumeL2Clipped: true });
        if (plan) addSkellamModular(q, plan.localVariance); // this client's share of the task's DP noise
        const bytes = vectorToBytes(decodeVector(this.client.maskInput(v.delivery, q)));
        q.fill(0);
        this.delta!.fill(0);
        this.delta = null;
        this.maskedSha256 = await sha256Hex(bytes);
        this.current = 'unmask';
        return { kind: 'send', message: { phase: 'masked', bytes } };
      }
      case 'unmask': {
        if (!v) return { kind: 'wait' };
        if (!v.unmaskRequest && !later(v, 'unmask')) return { kind: 'wait' };
        if (!v.unmaskRequest) return missed(v.failureReason ?? 'the round moved on before unmasking');
        const body = this.client.unmask(v.unmaskRequest);
        this.current = 'wait-result';
        return { kind: 'send', message: { phase: 'unmask', body } };
      }
      default:
        return { kind: 'over', outcome: this.outcome! };
    }
  }
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
  const { transport } = input;
  const session = SecureSession.start(input.fit, input.maxUpdateNorm, input.tensors, input.global);
  const check = () => {
    if (input.signal?.aborted) throw new RoundAbortedError();
  };
  const send = async (m: SecureOutgoing) =>
    m.phase === 'masked' ? transport.postMasked(m.bytes) : transport.post(m.phase, m.body);
  input.onStep?.('advertise');
  let view: SecureRoundView | null = null;
  for (;;) {
    check();
    const r = await session.next(view);
    if (r.kind === 'over') return r.outcome;
    if (r.kind === 'send') {
      await send(r.message);
      if (session.outcome) {
        input.onStep?.('wait-result');
        return session.outcome;
      }
      input.onStep?.(session.step);
    } else await transport.sleep(input.pollMs);
    check();
    view = await transport.view();
  }
}
