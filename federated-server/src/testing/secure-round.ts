/**
 * One secure round driven from tests: every institution takes part through the SecAgg+ phases
 * over the signed HTTP API with the same client code as the console (src/fl/secure-contribution.ts),
 * since a task under secure aggregation refuses plaintext uploads. Works in process (pass `tick`,
 * e.g. the coordinator's, when the server's timer is off) and against a real server over HTTP.
 */
import { decodeAdapter } from '../../../src/protocol/adapter-codec.ts';
import { contributeSecurely, type SecureOutcome } from '../../../src/fl/secure-contribution.ts';
import type { NamedTensor } from '../../../src/protocol/safetensors.ts';
import type { FitInstructions, WorkResponse } from '../../../src/protocol/schemas.ts';
import type { SecureRoundView } from '../../../src/protocol/secure-round.ts';
import type { InstitutionClient, Reply } from './client.ts';

/** How an institution behaves in the round: honest, or leaving before a phase. */
export type SecureBehaviour = 'honest' | 'drop-before-mask' | 'drop-before-unmask';

export interface SecureRoundInput {
  institutions: readonly InstitutionClient[];
  taskId: string;
  /**
   * Each institution's full trained tensors as it would upload them, or a function building them
   * from the round's global adapter (trained tensors only, as the task trains them).
   */
  updates: readonly NamedTensor[][] | ((global: Map<string, Float32Array>, index: number) => NamedTensor[]);
  /** Drives the server between polls (the coordinator's tick when its timer is off). */
  tick?: () => Promise<void>;
  pollMs?: number;
  /** Per institution; honest when absent. */
  behaviours?: readonly SecureBehaviour[];
  /** Also waits, polling and ticking, until the round is closed or failed (default true). */
  settle?: boolean;
}

export interface SecureRoundResult {
  round: number;
  globalVersion: number;
  outcomes: (SecureOutcome | 'dropped')[];
}

class Dropped extends Error {}

async function ok(r: Promise<Reply>, what: string): Promise<Reply> {
  const reply = await r;
  if (reply.status !== 200)
    throw new Error(`${what} → ${reply.status} ${new TextDecoder().decode(reply.body)}`);
  return reply;
}

/** The round's global adapter, downloaded with a signed request and decoded. */
export async function downloadGlobal(
  inst: InstitutionClient,
  taskId: string,
  version: number,
): Promise<Map<string, Float32Array>> {
  const url = `/v1/tasks/${taskId}/adapters/${version}`;
  const r = await ok(inst.request('GET', url), `GET ${url}`);
  return new Map(decodeAdapter(r.body).lora.tensors);
}

/** Runs one secure round with every institution concurrently; returns each one's outcome. */
export async function runSecureRound(input: SecureRoundInput): Promise<SecureRoundResult> {
  const pollMs = input.pollMs ?? 50;
  const sleep = async (ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    await input.tick?.();
  };
  const works = await Promise.all(
    input.institutions.map(async (inst) =>
      (await ok(inst.request('GET', `/v1/tasks/${input.taskId}/work`), 'GET work')).json<WorkResponse>(),
    ),
  );
  const idle = works.findIndex((w) => !w.instructions?.secure);
  if (idle >= 0)
    throw new Error(
      `institution ${idle} has no secure round to take part in: ${JSON.stringify(works[idle])}`,
    );
  const fits = works.map((w) => w.instructions as FitInstructions);
  const { round, globalVersion } = fits[0]!;
  const outcomes = await Promise.all(
    input.institutions.map(async (inst, i) => {
      const fit = fits[i]!;
      const global = await downloadGlobal(inst, input.taskId, fit.globalVersion);
      const tensors = typeof input.updates === 'function' ? input.updates(global, i) : input.updates[i]!;
      const behaviour = input.behaviours?.[i] ?? 'honest';
      const base = `/v1/tasks/${input.taskId}/rounds/${fit.round}/secure`;
      try {
        return await contributeSecurely({
          fit: fit.secure!,
          maxUpdateNorm: fit.maxUpdateNorm,
          tensors,
          global,
          pollMs,
          transport: {
            view: async () => (await ok(inst.request('GET', base), `GET ${base}`)).json<SecureRoundView>(),
            post: async (phase, body) => {
              if (phase === 'unmask' && behaviour === 'drop-before-unmask') throw new Dropped();
              await ok(inst.request('POST', `${base}/${phase}`, JSON.stringify(body)), `POST ${phase}`);
            },
            postMasked: async (bytes) => {
              if (behaviour === 'drop-before-mask') throw new Dropped();
              await ok(inst.request('POST', `${base}/masked`, bytes), 'POST masked');
            },
            sleep,
          },
        });
      } catch (err) {
        if (err instanceof Dropped) return 'dropped' as const;
        throw err;
      }
    }),
  );
  if (input.settle !== false) await settleRound(input.institutions[0]!, input.taskId, round, sleep, pollMs);
  return { round, globalVersion, outcomes };
}

/** Polls the institution's work until round `round` is over (closed, failed or superseded). */
async function settleRound(
  inst: InstitutionClient,
  taskId: string,
  round: number,
  sleep: (ms: number) => Promise<void>,
  pollMs: number,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const w = (await ok(inst.request('GET', `/v1/tasks/${taskId}/work`), 'GET work')).json<WorkResponse>();
    const r = w.round;
    if (!r || r.number > round || r.state === 'closed' || r.state === 'failed') return;
    if (Date.now() > deadline) throw new Error(`round ${round} did not end`);
    await sleep(pollMs);
  }
}

/**
 * An update that moves every coordinate of the round's global adapter by `by` (keep
 * `by · √coordinates` within the task's maxUpdateNorm); `trained` picks the tensors the task trains
 * (all of them by default, only lora_B in FFA-LoRA).
 */
export function shiftGlobal(
  by: number,
  trained: (name: string) => boolean = () => true,
): (global: Map<string, Float32Array>) => NamedTensor[] {
  return (global) =>
    [...global]
      .filter(([name]) => trained(name))
      .map(([name, data]) => ({ name, shape: [data.length], data: data.map((v) => v + by) }));
}
