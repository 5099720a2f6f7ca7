/**
 * The server's side of a round under secure aggregation (SecAgg+, src/protocol/secagg): it stores
 * each phase's messages, advances the phases on deadlines or when everyone is in, and finally
 * removes the masks from the sum. It never sees an individual update: what institutions send is
 * public keys, ciphertexts addressed to peers, masked vectors (uniform noise on their own) and the
 * Shamir shares the unmask phase asks for — never both secrets of one client.
 *
 * Phases after training (round `open` → `collecting` while they run):
 *   advertise ──k advertised and (round deadline or every member in)──▶ share ──all shared or phase deadline──▶
 *   mask ──all masked or phase deadline──▶ unmask ──all answered or phase deadline──▶ (aggregate)
 * Any phase ending with fewer than the threshold t (k for advertising) fails the round.
 *
 * Retention: masked vectors are sealed blobs under random names; every message of a round is
 * deleted when the round ends, closed or failed. The strategy sees one source: the mean of the
 * survivors' updates (Flower wraps strategies the same way; the strategy never knows about masks).
 */
import {
  buildRoster,
  bytesToVector,
  dequantizeSum,
  routeShares,
  unmaskRequest,
  MaskedSumAccumulator,
  checkMessage,
  AdvertiseKeysSchema,
  ShareKeysSchema,
  UnmaskResponseSchema,
  type Roster,
  type UnmaskRequest,
} from '../../src/protocol/secagg/index.ts';
import {
  dpPlan,
  roundQuantization,
  secureRoundId,
  unflatten,
  vectorLength,
  type SecureFit,
  type SecurePhase,
  type SecureRoundView,
} from '../../src/protocol/secure-round.ts';
import type { CreateTaskRequest } from '../../src/protocol/schemas.ts';
import type { TensorSpec } from '../../src/protocol/lora.ts';
import { PrivacyBudget, type BudgetState, type SkellamPlan } from '../../src/protocol/privacy/index.ts';
import { DureError } from '../../src/protocol/errors.ts';
import { ConflictError, FederatedError } from './errors.ts';
import type { BlobStore } from './storage/blobs.ts';
import type { Queryable } from './storage/db.ts';
import { minCohort } from './task-policy.ts';

/** Default length of each phase after the roster is fixed: they are quick steps, not training. */
export const DEFAULT_PHASE_SECONDS = 60;

interface SecureRow {
  round_id: number;
  phase: SecurePhase;
  phase_deadline: number;
  roster: string | null;
  shared: string | null;
  unmask_request: string | null;
  failure_reason: string | null;
}
interface MessageRow {
  round_id: number;
  institution_id: string;
  pseudonym: string;
  advertisement: string;
  shares: string | null;
  masked_blob: string | null;
  unmask: string | null;
}

/** A round as this module needs it. */
export interface SecureRoundRef {
  id: number;
  taskId: string;
  number: number;
  deadlineAt: number;
}

/** What the secure part of a task is, derived once from its spec. */
export interface SecureTask {
  fit: (round: number) => SecureFit;
  plan: SkellamPlan | null;
  clipNorm: number;
  phaseMs: number;
}

/** Whether a task runs its rounds under secure aggregation. */
export const isSecure = (spec: CreateTaskRequest): boolean => spec.privacy?.secureAggregation === true;

/**
 * The secure side of a task: fixed-point scale, the DP plan (noise per client) and phase length.
 * @throws {PrivacyParameterError} when the DP target cannot be met; {QuantizationError} when even
 *   a cohort of k could wrap the sum.
 */
export function secureTask(
  taskId: string,
  spec: CreateTaskRequest,
  trained: readonly TensorSpec[],
): SecureTask {
  const dp = spec.privacy?.dp ?? null;
  const fit = (round: number): SecureFit => ({
    roundId: secureRoundId(taskId, round),
    vectorLength: vectorLength(trained),
    scaleBits: dp ? 16 : 20,
    minCohort: minCohort(spec),
    rounds: spec.rounds,
    dp: dp ? { epsilon: dp.epsilon, delta: dp.delta } : null,
  });
  const plan = dpPlan(fit(1), spec.maxUpdateNorm);
  roundQuantization(fit(1), spec.maxUpdateNorm, minCohort(spec), plan); // refuses an impossible task now
  return {
    fit,
    plan,
    clipNorm: spec.maxUpdateNorm,
    phaseMs: (spec.privacy?.phaseSeconds ?? DEFAULT_PHASE_SECONDS) * 1000,
  };
}

/** A protocol refusal as the HTTP error the institution sees. */
function refused(err: unknown): never {
  if (err instanceof DureError && !(err instanceof FederatedError))
    throw new FederatedError('SECAGG_REFUSED', 400, err.message);
  throw err;
}

export class SecureRounds {
  constructor(private readonly blobs: BlobStore) {}

  private async row(q: Queryable, roundId: number): Promise<SecureRow | undefined> {
    const [r] = await q.query<SecureRow>('SELECT * FROM secure_rounds WHERE round_id = $1', [roundId]);
    return r;
  }

  private async messages(q: Queryable, roundId: number): Promise<MessageRow[]> {
    return q.query<MessageRow>('SELECT * FROM secure_messages WHERE round_id = $1 ORDER BY pseudonym', [
      roundId,
    ]);
  }

  private async mine(q: Queryable, roundId: number, institutionId: string): Promise<MessageRow | undefined> {
    const [m] = await q.query<MessageRow>(
      'SELECT * FROM secure_messages WHERE round_id = $1 AND institution_id = $2',
      [roundId, institutionId],
    );
    return m;
  }

  /** Creates the round's secure state in its first phase (called when the round opens). */
  async open(q: Queryable, round: SecureRoundRef): Promise<void> {
    await q.query(
      `INSERT INTO secure_rounds (round_id, phase, phase_deadline) VALUES ($1, 'advertise', $2) ON CONFLICT (round_id) DO NOTHING`,
      [round.id, round.deadlineAt],
    );
  }

  /** The institution's view of the round's phases. */
  async view(q: Queryable, round: SecureRoundRef, institutionId: string): Promise<SecureRoundView> {
    const s = await this.row(q, round.id);
    if (!s) throw new ConflictError('this round has no secure-aggregation state', 'WRONG_ROUND');
    const me = await this.mine(q, round.id, institutionId);
    const roster = s.roster ? (JSON.parse(s.roster) as Roster) : null;
    let delivery = null;
    if (roster && me?.shares && s.shared && (s.phase === 'mask' || s.phase === 'unmask')) {
      const shares = (await this.messages(q, round.id))
        .filter((m) => m.shares)
        .map((m) => JSON.parse(m.shares!));
      delivery = routeShares(roster, shares).deliveries.find((d) => d.clientId === me.pseudonym) ?? null;
    }
    const request = s.unmask_request ? (JSON.parse(s.unmask_request) as UnmaskRequest) : null;
    return {
      phase: s.phase,
      phaseDeadline: new Date(s.phase_deadline).toISOString(),
      you: {
        advertised: Boolean(me),
        shared: Boolean(me?.shares),
        masked: Boolean(me?.masked_blob),
        unmasked: Boolean(me?.unmask),
      },
      // Only those in the roster get it (it holds the cohort's public keys).
      roster: roster && me && roster.participants.some((p) => p.clientId === me.pseudonym) ? roster : null,
      delivery,
      unmaskRequest: request && me && request.survivors.includes(me.pseudonym) ? request : null,
      failureReason: s.failure_reason,
    };
  }

  private async expectPhase(q: Queryable, round: SecureRoundRef, phase: SecurePhase): Promise<SecureRow> {
    const s = await this.row(q, round.id);
    if (!s || s.phase !== phase)
      throw new ConflictError(
        `round ${round.number} is in phase ${s?.phase ?? 'none'}, not ${phase}`,
        'SECAGG_PHASE_CLOSED',
      );
    return s;
  }

  /** Phase 1: an institution's two public keys under its round pseudonym. */
  async advertise(q: Queryable, round: SecureRoundRef, institutionId: string, body: unknown): Promise<void> {
    await this.expectPhase(q, round, 'advertise');
    let ad;
    try {
      ad = checkMessage(AdvertiseKeysSchema, body);
    } catch (err) {
      refused(err);
    }
    if (ad.roundId !== secureRoundId(round.taskId, round.number))
      throw new FederatedError('SECAGG_REFUSED', 400, 'keys advertised for another round');
    const existing = await this.mine(q, round.id, institutionId);
    if (existing) {
      if (existing.advertisement === JSON.stringify(ad)) return; // a retry after a lost reply
      throw new ConflictError('this institution already advertised keys for the round', 'DUPLICATE_UPDATE');
    }
    const [taken] = await q.query('SELECT 1 FROM secure_messages WHERE round_id = $1 AND pseudonym = $2', [
      round.id,
      ad.clientId,
    ]);
    if (taken) throw new ConflictError('pseudonym already taken in this round', 'DUPLICATE_UPDATE');
    await q.query(
      `INSERT INTO secure_messages (round_id, institution_id, pseudonym, advertisement) VALUES ($1, $2, $3, $4)`,
      [round.id, institutionId, ad.clientId, JSON.stringify(ad)],
    );
  }

  /** Phase 2: the ciphertexts of this client's shares, one per neighbour. */
  async share(q: Queryable, round: SecureRoundRef, institutionId: string, body: unknown): Promise<void> {
    const s = await this.expectPhase(q, round, 'share');
    const me = await this.mine(q, round.id, institutionId);
    const roster = JSON.parse(s.roster!) as Roster;
    const entry = me && roster.participants.find((p) => p.clientId === me.pseudonym);
    if (!me || !entry) throw new ConflictError('this institution is not in the round roster', 'WRONG_ROUND');
    let msg;
    try {
      msg = checkMessage(ShareKeysSchema, body);
      if (msg.clientId !== me.pseudonym || msg.roundId !== roster.roundId)
        throw new FederatedError('SECAGG_REFUSED', 400, 'shares sent under another pseudonym or round');
      routeShares(roster, [msg]); // addresses exactly its neighbours, once each
    } catch (err) {
      refused(err);
    }
    if (me.shares) {
      if (me.shares === JSON.stringify(msg)) return;
      throw new ConflictError('shares for this round were already received', 'DUPLICATE_UPDATE');
    }
    await q.query('UPDATE secure_messages SET shares = $3 WHERE round_id = $1 AND institution_id = $2', [
      round.id,
      institutionId,
      JSON.stringify(msg),
    ]);
  }

  /**
   * Phase 3: a masked vector (raw little-endian uint32 words in a temp file), sealed into the blob
   * store under a random name; the temp file is consumed.
   */
  async mask(
    q: Queryable,
    round: SecureRoundRef,
    institutionId: string,
    upload: { path: string; size: number },
  ): Promise<void> {
    const s = await this.expectPhase(q, round, 'mask');
    const me = await this.mine(q, round.id, institutionId);
    const shared = JSON.parse(s.shared!) as string[];
    if (!me || !shared.includes(me.pseudonym))
      throw new ConflictError('this institution did not share keys in this round', 'WRONG_ROUND');
    if (me.masked_blob)
      throw new ConflictError('a masked input for this round was already received', 'DUPLICATE_UPDATE');
    const roster = JSON.parse(s.roster!) as Roster;
    if (upload.size !== roster.vectorLength * 4)
      throw new FederatedError(
        'SECAGG_REFUSED',
        400,
        `masked input has ${upload.size} bytes, the round needs ${roster.vectorLength * 4}`,
      );
    const name = await this.blobs.commitTemp(upload.path);
    await q.query('UPDATE secure_messages SET masked_blob = $3 WHERE round_id = $1 AND institution_id = $2', [
      round.id,
      institutionId,
      name,
    ]);
  }

  /** Bytes a masked input may have for this round (bounds the body before it is read). */
  async maskLimit(q: Queryable, round: SecureRoundRef): Promise<number> {
    const s = await this.row(q, round.id);
    return s?.roster ? (JSON.parse(s.roster) as Roster).vectorLength * 4 : 0;
  }

  /** Phase 4: the shares the unmask request asked this survivor for. */
  async unmask(q: Queryable, round: SecureRoundRef, institutionId: string, body: unknown): Promise<void> {
    const s = await this.expectPhase(q, round, 'unmask');
    const me = await this.mine(q, round.id, institutionId);
    const request = JSON.parse(s.unmask_request!) as UnmaskRequest;
    if (!me || !request.survivors.includes(me.pseudonym))
      throw new ConflictError('this institution is not a survivor of the round', 'WRONG_ROUND');
    let msg;
    try {
      msg = checkMessage(UnmaskResponseSchema, body);
    } catch (err) {
      refused(err);
    }
    if (msg.clientId !== me.pseudonym || msg.roundId !== request.roundId)
      throw new FederatedError('SECAGG_REFUSED', 400, 'unmask response under another pseudonym or round');
    const survivors = new Set(request.survivors);
    const dropped = new Set(request.dropped);
    if (
      msg.selfMaskShares.some((x) => !survivors.has(x.of)) ||
      msg.maskKeyShares.some((x) => !dropped.has(x.of))
    )
      throw new FederatedError('SECAGG_REFUSED', 400, 'the response reveals shares that were not asked for');
    if (me.unmask) {
      if (me.unmask === JSON.stringify(msg)) return;
      throw new ConflictError('an unmask response for this round was already received', 'DUPLICATE_UPDATE');
    }
    await q.query('UPDATE secure_messages SET unmask = $3 WHERE round_id = $1 AND institution_id = $2', [
      round.id,
      institutionId,
      JSON.stringify(msg),
    ]);
  }

  private async setPhase(
    q: Queryable,
    roundId: number,
    phase: SecurePhase,
    deadline: number,
    extra: Partial<SecureRow> = {},
  ) {
    await q.query(
      `UPDATE secure_rounds SET phase = $2, phase_deadline = $3,
         roster = COALESCE($4, roster), shared = COALESCE($5, shared), unmask_request = COALESCE($6, unmask_request),
         failure_reason = COALESCE($7, failure_reason)
       WHERE round_id = $1`,
      [
        roundId,
        phase,
        deadline,
        extra.roster ?? null,
        extra.shared ?? null,
        extra.unmask_request ?? null,
        extra.failure_reason ?? null,
      ],
    );
  }

  /**
   * Moves the round's phases forward. Returns 'aggregate' once the unmask phase is over, a failure
   * reason when a phase ended short of its threshold, or 'wait'.
   */
  async advance(
    q: Queryable,
    round: SecureRoundRef,
    task: SecureTask,
    members: number,
    now: number,
  ): Promise<'wait' | 'aggregate' | { fail: string }> {
    const s = await this.row(q, round.id);
    if (!s) return 'wait';
    const msgs = await this.messages(q, round.id);
    const fit = task.fit(round.number);
    switch (s.phase) {
      case 'advertise': {
        const n = msgs.length;
        // Like a plaintext round: wait for k, then for the deadline or every member.
        if (n < fit.minCohort)
          return now >= round.deadlineAt
            ? { fail: `${n} of at least ${fit.minCohort} institutions advertised keys` }
            : 'wait';
        if (!(now >= round.deadlineAt || n >= members)) return 'wait';
        try {
          const roster = buildRoster({
            roundId: fit.roundId,
            advertisements: msgs.map((m) => JSON.parse(m.advertisement)),
            vectorLength: fit.vectorLength,
            quantization: roundQuantization(fit, task.clipNorm, n, task.plan),
          });
          await this.setPhase(q, round.id, 'share', now + task.phaseMs, { roster: JSON.stringify(roster) });
        } catch (err) {
          return { fail: `roster could not be built: ${(err as Error).message}` };
        }
        return 'wait';
      }
      case 'share': {
        const roster = JSON.parse(s.roster!) as Roster;
        const shared = msgs.filter((m) => m.shares);
        if (!(shared.length === roster.participants.length || now >= s.phase_deadline)) return 'wait';
        const routed = routeShares(
          roster,
          shared.map((m) => JSON.parse(m.shares!)),
        );
        if (routed.shared.length < roster.threshold)
          return {
            fail: `${routed.shared.length} institutions shared keys, fewer than the threshold ${roster.threshold}`,
          };
        await this.setPhase(q, round.id, 'mask', now + task.phaseMs, {
          shared: JSON.stringify(routed.shared),
        });
        return 'wait';
      }
      case 'mask': {
        const roster = JSON.parse(s.roster!) as Roster;
        const shared = JSON.parse(s.shared!) as string[];
        const masked = msgs.filter((m) => m.masked_blob).map((m) => m.pseudonym);
        if (!(masked.length === shared.length || now >= s.phase_deadline)) return 'wait';
        try {
          const request = unmaskRequest(roster, shared, masked);
          await this.setPhase(q, round.id, 'unmask', now + task.phaseMs, {
            unmask_request: JSON.stringify(request),
          });
        } catch (err) {
          return { fail: `unmasking cannot start: ${(err as Error).message}` };
        }
        return 'wait';
      }
      case 'unmask': {
        const request = JSON.parse(s.unmask_request!) as UnmaskRequest;
        const answered = msgs.filter((m) => m.unmask).length;
        if (!(answered === request.survivors.length || now >= s.phase_deadline)) return 'wait';
        await this.setPhase(q, round.id, 'done', now);
        return 'aggregate';
      }
      default:
        return s.phase === 'done' ? 'aggregate' : 'wait';
    }
  }

  /**
   * The mean of the survivors' updates (DP noise included), as tensors, after removing the masks.
   * @throws {DureError} from the protocol when the masks cannot be removed (too few shares, a lie).
   */
  async unmaskedMean(
    q: Queryable,
    round: SecureRoundRef,
    trained: readonly TensorSpec[],
  ): Promise<{ mean: Map<string, Float32Array>; survivors: number; dropped: number }> {
    const s = await this.row(q, round.id);
    if (!s?.roster || !s.shared || !s.unmask_request) throw new Error('the round has not reached unmasking');
    const roster = JSON.parse(s.roster) as Roster;
    const shared = JSON.parse(s.shared) as string[];
    const request = JSON.parse(s.unmask_request) as UnmaskRequest;
    const msgs = await this.messages(q, round.id);
    // One running sum mod 2^32; each masked blob is read, added and dropped before the next, so
    // memory is the sum plus one vector however many institutions took part (issue #19 item 5).
    const acc = new MaskedSumAccumulator(roster, shared);
    for (const m of msgs)
      if (m.masked_blob)
        acc.add(m.pseudonym, bytesToVector(await this.blobs.read(m.masked_blob), roster.vectorLength));
    // The sum must hold exactly the inputs the survivors were asked to unmask, each once.
    const { sum, survivors } = acc.unmask(
      msgs.filter((m) => m.unmask).map((m) => JSON.parse(m.unmask!)),
      request.survivors,
    );
    const total = dequantizeSum(sum, survivors.length, roster.quantization);
    for (let i = 0; i < total.length; i++) total[i]! /= survivors.length;
    return {
      mean: unflatten(trained, total),
      survivors: survivors.length,
      dropped: shared.length - survivors.length,
    };
  }

  /** Institutions whose masked input is in the round's sum (for the audit record of who took part). */
  async contributors(q: Queryable, roundId: number): Promise<string[]> {
    return (
      await q.query<{ institution_id: string }>(
        'SELECT institution_id FROM secure_messages WHERE round_id = $1 AND masked_blob IS NOT NULL ORDER BY institution_id',
        [roundId],
      )
    ).map((r) => r.institution_id);
  }

  /** Deletes everything a round's phases left: masked blobs and messages (retention). */
  async discard(q: Queryable, roundId: number): Promise<void> {
    for (const m of await this.messages(q, roundId))
      if (m.masked_blob) await this.blobs.delete(m.masked_blob);
    await q.query('DELETE FROM secure_messages WHERE round_id = $1', [roundId]);
  }

  /** Marks a round's secure state failed (kept so clients learn why). */
  async fail(q: Queryable, roundId: number, reason: string): Promise<void> {
    await q.query(`UPDATE secure_rounds SET phase = 'failed', failure_reason = $2 WHERE round_id = $1`, [
      roundId,
      reason,
    ]);
  }
}

/** A task's privacy budget from its stored state. */
export function loadBudget(plan: SkellamPlan, state: string | null): PrivacyBudget {
  return PrivacyBudget.forSkellam(plan, state ? (JSON.parse(state) as BudgetState) : undefined);
}
