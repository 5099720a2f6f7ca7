/**
 * Roster checks shared by client and server: who takes part, with which keys, which neighbours,
 * and which threshold. A roster that fails any check is refused before any secret is shared.
 */
import { SecAggProtocolError } from '../errors.ts';
import { neighbourGraph, effectiveDegree } from './graph.ts';
import { checkQuantizationParams } from './quantize.ts';
import { decodeFixed, type Roster, type RosterParticipant } from './schemas.ts';

/**
 * Thresholds allowed for `holders` share holders (a client and its neighbours): a strict majority
 * (so two disjoint groups can never both reconstruct one client's secrets) and at most all of them.
 */
export function checkThreshold(threshold: number, holders: number): void {
  if (!Number.isInteger(threshold) || threshold * 2 <= holders || threshold > holders)
    throw new SecAggProtocolError(
      `threshold ${threshold} must be a strict majority of the ${holders} share holders and at most all of them`,
      'SECAGG_BAD_ROSTER',
    );
}

/** The roster's participants by id, checked. */
export interface RosterView {
  byId: Map<string, RosterParticipant>;
  /** Share holders per client: its neighbours plus itself. */
  holders: number;
}

/**
 * Checks a roster is internally consistent: indices are 1…n in id order, ids and keys are unique
 * and well formed, neighbour lists are the graph the public seed gives, the threshold fits the
 * neighbourhood size and the quantization leaves headroom for every participant.
 * @throws {SecAggProtocolError} SECAGG_BAD_ROSTER; {QuantizationError} for unusable fixed-point params.
 */
export function checkRoster(roster: Roster): RosterView {
  const bad = (why: string) => new SecAggProtocolError(`roster: ${why}`, 'SECAGG_BAD_ROSTER');
  const ps = roster.participants;
  const ids = ps.map((p) => p.clientId);
  const sorted = [...ids].sort();
  if (new Set(ids).size !== ids.length) throw bad('a client appears twice');
  const byId = new Map<string, RosterParticipant>();
  const keys = new Set<string>();
  for (const p of ps) {
    if (p.index !== sorted.indexOf(p.clientId) + 1)
      throw bad(`index of ${p.clientId} is not its place in id order`);
    decodeFixed(p.encryptionKey, 32, 'encryption key');
    decodeFixed(p.maskKey, 32, 'mask key');
    if (keys.has(p.encryptionKey) || keys.has(p.maskKey) || p.encryptionKey === p.maskKey)
      throw bad(`public keys of ${p.clientId} repeat another key`);
    keys.add(p.encryptionKey).add(p.maskKey);
    byId.set(p.clientId, p);
  }
  const seed = decodeFixed(roster.graphSeed, 32, 'graph seed');
  const graph = neighbourGraph(ids, roster.degree, seed);
  for (const p of ps) {
    const expected = graph.get(p.clientId)!;
    const given = [...p.neighbours].sort();
    if (given.length !== expected.length || given.some((id, i) => id !== expected[i]))
      throw bad(`neighbours of ${p.clientId} are not the graph its seed gives`);
  }
  const holders = effectiveDegree(ps.length, roster.degree) + 1;
  checkThreshold(roster.threshold, holders);
  checkQuantizationParams(roster.quantization);
  if (ps.length > roster.quantization.maxClients)
    throw bad(
      `${ps.length} participants exceed the quantization headroom (${roster.quantization.maxClients})`,
    );
  return { byId, holders };
}
