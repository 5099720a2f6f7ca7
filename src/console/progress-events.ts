/** The console's reading of the round client's progress (kept apart from driver.ts, which needs a browser). */
import type { RoundProgress } from '../fl/round-client.ts';
import type { DriverEvent } from './session.svelte.ts';

/**
 * The console's events for one round-client progress event. Phases are announced as they start;
 * `waiting` is told apart by what the client waits for: a round it already sent its update to
 * (the other institutions), the server combining the updates, or the next round.
 */
export function progressEvents(p: RoundProgress, submittedRound: number | null): DriverEvent[] {
  switch (p.phase) {
    case 'waiting': {
      if (p.round !== null && p.roundState === 'aggregating')
        return [{ kind: 'phase', phase: 'aggregating', round: p.round }];
      if (
        p.round !== null &&
        p.round === submittedRound &&
        (p.roundState === 'open' || p.roundState === 'collecting')
      )
        return [{ kind: 'phase', phase: 'waiting-others', round: p.round }];
      return [{ kind: 'phase', phase: 'waiting' }];
    }
    case 'downloading':
      return [{ kind: 'phase', phase: 'downloading', round: p.round }];
    case 'preparing':
      return [{ kind: 'phase', phase: 'preparing', round: p.round }];
    case 'evaluating':
      return [
        {
          kind: 'phase',
          phase: p.when === 'before' ? 'evaluating-before' : 'evaluating-after',
          round: p.round,
        },
      ];
    case 'evaluated':
      return [{ kind: 'eval', which: p.when, result: p.result }];
    case 'step':
      return [{ kind: 'phase', phase: 'training', round: p.round, step: p.step, total: p.steps }];
    case 'training':
      return [{ kind: 'step', step: p.step, total: p.steps, loss: p.loss }];
    case 'signing':
      return [{ kind: 'phase', phase: 'signing', round: p.round }];
    case 'uploading':
      return [{ kind: 'phase', phase: 'uploading', round: p.round }];
    case 'securing':
      return [{ kind: 'phase', phase: `secure-${p.step}`, round: p.round }];
    case 'uploaded':
      return [{ kind: 'phase', phase: 'submitted', round: p.round }];
  }
}
