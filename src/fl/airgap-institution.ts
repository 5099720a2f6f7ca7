/**
 * An air-gapped institution's side of a secure round, one phase per call, driven by files instead
 * of HTTP: the same state machine as the online client ({@link SecureSession}), fed with the
 * server's signed view of the round (exported by the operator) and answering with a signed
 * institution message (src/protocol/airgap.ts) for the operator to import. Nothing here opens a
 * connection; the caller moves the files and keeps the vault (./airgap-vault.ts) between calls.
 */
import { decodeAdapter } from '../protocol/adapter-codec.ts';
import {
  openGlobalAdapter,
  openServerDocument,
  sealInstitutionMessage,
  type AirgapPhase,
  type ServerViewPayload,
} from '../protocol/airgap.ts';
import { fromBase64Url } from '../protocol/base64url.ts';
import { AirgapFileError, SignatureError } from '../protocol/errors.ts';
import type { NamedTensor } from '../protocol/safetensors.ts';
import type { WorkResponse } from '../protocol/schemas.ts';
import { SecureRoundViewSchema, type SecureRoundView } from '../protocol/secure-round.ts';
import { Value } from '@sinclair/typebox/value';
import { SecureSession, type SecureOutcome, type SecureSessionState } from './secure-contribution.ts';

/** One round this institution is in, between phases. */
export interface AirgapRoundState {
  taskId: string;
  round: number;
  /** `issuedAt` of the last server view used: an older or the same one is refused. */
  lastIssuedAt: number;
  session: SecureSessionState;
  outcome: SecureOutcome | null;
  /** The last message written, kept so a file lost in transfer can be written again (`resend`). */
  lastMessage?: string;
}

/** What the vault holds (encrypted at rest). */
export interface AirgapVaultContents {
  version: 1;
  /** The server's Ed25519 public key (base64url), pinned when the vault was made. */
  serverKey: string;
  identity: {
    publicKey: string;
    privateKeyJwk: JsonWebKey;
    /** Learned from the first server view (the server names the institution it exported for). */
    institutionId: string | null;
  };
  rounds: Record<string, AirgapRoundState>;
}

/**
 * A new institution identity: an Ed25519 key pair whose public key the operator enrolls on the
 * connected side; the private key leaves the vault only to sign.
 * @throws {SignatureError} if the platform lacks Ed25519.
 */
export async function newAirgapVault(serverKey: string): Promise<AirgapVaultContents> {
  // The pinned key checks every file the server sends later: a mistyped one is refused now.
  const raw = fromBase64Url(serverKey);
  if (raw?.length !== 32)
    throw new AirgapFileError(
      'the server key is not a base64url Ed25519 public key (43 characters)',
      'AIRGAP_MALFORMED',
    );
  try {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
    return {
      version: 1,
      serverKey,
      identity: { publicKey: jwk.x!, privateKeyJwk: jwk, institutionId: null },
      rounds: {},
    };
  } catch (cause) {
    throw new SignatureError('this platform cannot generate Ed25519 keys (WebCrypto)', { cause });
  }
}

export interface AirgapStepInput {
  /** The server's signed view (`dure airgap export`). */
  viewFile: string | Uint8Array;
  /** For the first step of a round: the round's global adapter file and the trained update. */
  adapterFile?: string | Uint8Array;
  update?: readonly NamedTensor[];
}

export type AirgapStepResult =
  | { status: 'sent'; phase: AirgapPhase; message: string; taskId: string; round: number }
  | { status: 'waiting'; taskId: string; round: number; phase: string }
  | { status: 'over'; outcome: SecureOutcome; taskId: string; round: number };

/**
 * Runs the next phase of the round the view is about; updates `vault` in place (the caller seals
 * it again whatever the result).
 * @throws {AirgapFileError} for a view or adapter file that is altered, from another server, for
 *   another institution or task, replayed, or not for this step; {TrainerContractError} for an
 *   update of the wrong shape; the protocol's typed errors when the server breaks the protocol.
 */
export async function airgapStep(
  vault: AirgapVaultContents,
  input: AirgapStepInput,
): Promise<AirgapStepResult> {
  const p = (await openServerDocument(input.viewFile, 'server-view', vault.serverKey)) as ServerViewPayload;
  if (typeof p?.taskId !== 'string' || typeof p.institutionId !== 'string' || !Number.isFinite(p.issuedAt))
    throw new AirgapFileError('the server view is incomplete', 'AIRGAP_MALFORMED');
  const id = vault.identity;
  if (id.institutionId !== null && id.institutionId !== p.institutionId)
    throw new AirgapFileError(
      `the view is for institution ${p.institutionId}, this vault is ${id.institutionId}`,
      'AIRGAP_WRONG_TASK',
    );
  if (p.view !== null && !Value.Check(SecureRoundViewSchema, p.view))
    throw new AirgapFileError('the round view in the file is malformed', 'AIRGAP_MALFORMED');
  const view = p.view as SecureRoundView | null;
  const round = p.round;
  if (round === null || !Number.isInteger(round))
    throw new AirgapFileError('the view names no round of the task', 'AIRGAP_WRONG_PHASE');
  const key = `${p.taskId}/${round}`;
  let state = vault.rounds[key];
  let session: SecureSession;
  if (state) {
    if (p.issuedAt <= state.lastIssuedAt)
      throw new AirgapFileError(
        'this view is not newer than the last one used for the round',
        'AIRGAP_REPLAYED',
      );
    state.lastIssuedAt = p.issuedAt;
    if (state.outcome) return { status: 'over', outcome: state.outcome, taskId: p.taskId, round };
    session = SecureSession.restore(state.session);
  } else {
    const ins = (p.work as WorkResponse | null)?.instructions;
    if (!ins?.secure || ins.round !== round)
      throw new AirgapFileError(`the view offers no secure round ${round} to join`, 'AIRGAP_WRONG_PHASE');
    if (!input.adapterFile || !input.update)
      throw new AirgapFileError(
        'the first step of a round needs the global adapter file and the update',
        'AIRGAP_WRONG_PHASE',
      );
    const adapter = await openGlobalAdapter(input.adapterFile, vault.serverKey, { taskId: p.taskId });
    if (adapter.version !== ins.globalVersion)
      throw new AirgapFileError(
        `the round starts from adapter v${ins.globalVersion}, the file holds v${adapter.version}`,
        'AIRGAP_WRONG_PHASE',
      );
    const global = new Map(decodeAdapter(adapter.bytes).lora.tensors);
    session = SecureSession.start(ins.secure, ins.maxUpdateNorm, input.update, global);
    state = { taskId: p.taskId, round, lastIssuedAt: p.issuedAt, session: session.state(), outcome: null };
  }
  const next = await session.next(view);
  state.session = session.state();
  vault.rounds[key] = state;
  if (next.kind === 'wait')
    return { status: 'waiting', taskId: p.taskId, round, phase: view?.phase ?? 'advertise' };
  if (next.kind === 'over') {
    state.outcome = next.outcome;
    return { status: 'over', outcome: next.outcome, taskId: p.taskId, round };
  }
  id.institutionId = p.institutionId;
  const privateKey = await crypto.subtle.importKey('jwk', id.privateKeyJwk, { name: 'Ed25519' }, false, [
    'sign',
  ]);
  const m = next.message;
  const message = await sealInstitutionMessage({
    privateKey,
    institutionId: p.institutionId,
    taskId: p.taskId,
    round,
    phase: m.phase,
    body: m.phase === 'masked' ? m.bytes : m.body,
  });
  if (session.outcome) state.outcome = session.outcome;
  state.lastMessage = message;
  return { status: 'sent', phase: m.phase, message, taskId: p.taskId, round };
}

/**
 * The last message of a round again, exactly as first written (same signature and nonce: if the
 * first copy did arrive, the server refuses this one as a replay; if it was lost, this one counts).
 * @throws {AirgapFileError} AIRGAP_WRONG_TASK when the vault has no message for that round.
 */
export function lastAirgapMessage(vault: AirgapVaultContents, taskId: string, round: number): string {
  const m = vault.rounds[`${taskId}/${round}`]?.lastMessage;
  if (!m)
    throw new AirgapFileError(`no message was written for ${taskId} round ${round}`, 'AIRGAP_WRONG_TASK');
  return m;
}
