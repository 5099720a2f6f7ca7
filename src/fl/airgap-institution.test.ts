import { describe, expect, it } from 'vitest';
import { signServerDocument } from '../protocol/airgap.ts';
import { toBase64Url } from '../protocol/base64url.ts';
import { AirgapFileError } from '../protocol/errors.ts';
import { airgapStep, newAirgapVault, type AirgapVaultContents } from './airgap-institution.ts';
import { createVault, MIN_KDF_ITERATIONS, openVault } from './airgap-vault.ts';
import { SecureSession } from './secure-contribution.ts';
import type { SecureFit, SecureRoundView } from '../protocol/secure-round.ts';

async function serverPair() {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const publicKey = toBase64Url(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)));
  return { privateKey: pair.privateKey, publicKey };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AirgapFileError);
    return (e as AirgapFileError).code;
  }
  throw new Error('accepted');
}

describe('the air-gapped vault', () => {
  it('opens with its passphrase only, and not once altered', async () => {
    const contents = { secret: 'seed', n: 7 };
    const vault = await createVault(contents, '비밀 구절', MIN_KDF_ITERATIONS);
    const file = await vault.seal(contents);
    expect(file).not.toContain('seed');
    const opened = await openVault<typeof contents>(file, '비밀 구절');
    expect(opened.contents).toEqual(contents);
    // Saved again under the same key with a fresh IV: still opens, and is not the same bytes.
    const again = await opened.seal({ ...contents, n: 8 });
    expect(again).not.toBe(file);
    expect((await openVault<typeof contents>(again, '비밀 구절')).contents.n).toBe(8);
    expect(await code(openVault(file, 'wrong'))).toBe('AIRGAP_STATE_LOCKED');
    const f = JSON.parse(file) as { ciphertext: string };
    const flipped = { ...f, ciphertext: (f.ciphertext[0] === 'A' ? 'B' : 'A') + f.ciphertext.slice(1) };
    expect(await code(openVault(JSON.stringify(flipped), '비밀 구절'))).toBe('AIRGAP_STATE_LOCKED');
    expect(await code(createVault(contents, 'x', 1000))).toBe('AIRGAP_STATE_LOCKED');
  });
});

describe('a step from files', () => {
  it('refuses views from another server, for another institution, replayed, or with no round to join', async () => {
    const server = await serverPair();
    const impostor = await serverPair();
    const vault: AirgapVaultContents = await newAirgapVault(server.publicKey);
    const view = (over: Record<string, unknown>, key = server) =>
      signServerDocument(key.privateKey, key.publicKey, 'server-view', {
        taskId: 'task_x',
        institutionId: 'inst_a',
        issuedAt: 100,
        work: { taskState: 'running', round: null, instructions: null, submitted: false },
        round: 1,
        view: null,
        ...over,
      });
    expect(await code(airgapStep(vault, { viewFile: await view({}, impostor) }))).toBe(
      'AIRGAP_BAD_SIGNATURE',
    );
    expect(await code(airgapStep(vault, { viewFile: await view({}) }))).toBe('AIRGAP_WRONG_PHASE');
    vault.identity.institutionId = 'inst_a';
    expect(await code(airgapStep(vault, { viewFile: await view({ institutionId: 'inst_b' }) }))).toBe(
      'AIRGAP_WRONG_TASK',
    );
    vault.rounds['task_x/1'] = {
      taskId: 'task_x',
      round: 1,
      lastIssuedAt: 100,
      session: null as never,
      outcome: null,
    };
    expect(await code(airgapStep(vault, { viewFile: await view({ issuedAt: 100 }) }))).toBe(
      'AIRGAP_REPLAYED',
    );
    expect(await code(airgapStep(vault, { viewFile: await view({ issuedAt: 50 }) }))).toBe('AIRGAP_REPLAYED');
  });
});

describe('the resumable session', () => {
  const fit: SecureFit = {
    roundId: 'task_x-r1',
    vectorLength: 4,
    scaleBits: 20,
    minCohort: 3,
    rounds: 1,
    dp: null,
  };
  const global = new Map([['w', new Float32Array([1, 1, 1, 1])]]);
  const tensor = (by: number) => [{ name: 'w', shape: [4], data: new Float32Array([1 + by, 1, 1, 1 - by]) }];

  it('refuses an update over the bound before advertising anything', () => {
    expect(() => SecureSession.start(fit, 1, tensor(0.8), global)).toThrow(
      expect.objectContaining({ code: 'TRAINER_CONTRACT' }),
    );
  });

  it('continues after a restart from its JSON state, waiting where it stopped', async () => {
    const s = SecureSession.start(fit, 1, tensor(0.5), global);
    const first = await s.next(null);
    expect(first.kind === 'send' && first.message.phase).toBe('advertise');
    const state = JSON.parse(JSON.stringify(s.state())) as ReturnType<typeof s.state>;
    expect(state.step).toBe('share');
    const again = SecureSession.restore(state);
    const view: SecureRoundView = {
      phase: 'advertise',
      phaseDeadline: new Date().toISOString(),
      you: { advertised: true, shared: false, masked: false, unmasked: false },
      roster: null,
      delivery: null,
      unmaskRequest: null,
      failureReason: null,
    };
    expect(await again.next(view)).toEqual({ kind: 'wait' });
    expect(await again.next({ ...view, phase: 'failed', failureReason: 'too few' })).toEqual({
      kind: 'over',
      outcome: { kind: 'missed', reason: 'too few' },
    });
    expect(() => SecureSession.restore({ ...state, delta: 'AAAA' })).toThrow(
      expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE' }),
    );
  });
});
