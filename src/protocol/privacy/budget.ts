/**
 * A task's privacy budget: the RDP spent so far, the (ε, δ) it amounts to, and whether one more
 * worst-case round still fits. The server checks `assertCanRunAnotherRound` before opening a round
 * and calls `recordRound` whenever a noisy sum is released (never skip one: every release spends).
 */
import { PrivacyBudgetExhaustedError, PrivacyParameterError } from '../errors.ts';
import { skellamRoundRdp, type SkellamPlan } from './calibrate.ts';
import { epsilonFromRdp } from './rdp.ts';

/** The budget's persistent state: plain data for the server's database. */
export interface BudgetState {
  rounds: number;
  /** Accumulated RDP at each order of the budget's grid. */
  rdp: number[];
}

/** What a budget is measured against. */
export interface BudgetLimits {
  epsilon: number;
  delta: number;
}

// Summing a calibrated plan's round cost R times may land a few ulps above R × cost; this slack
// keeps the R-th planned round from being refused by rounding alone.
const RELATIVE_SLACK = 1e-9;

/** ε spent, ε left and whether another round fits, for one task. */
export class PrivacyBudget {
  private readonly spent: number[];
  private rounds: number;

  /**
   * @param limits the task's (ε, δ)
   * @param orders the RDP orders every curve here is given on
   * @param worstRoundRdp RDP of one round at its worst (fewest noise shares)
   * @param state a saved state to resume from
   * @throws PrivacyParameterError when the curves do not match the orders or the limits are invalid
   */
  constructor(
    readonly limits: BudgetLimits,
    readonly orders: readonly number[],
    readonly worstRoundRdp: readonly number[],
    state?: BudgetState,
  ) {
    if (!(limits.epsilon > 0 && limits.delta > 0 && limits.delta < 1)) {
      throw new PrivacyParameterError(`invalid budget: ε ${limits.epsilon}, δ ${limits.delta}`);
    }
    if (worstRoundRdp.length !== orders.length || (state && state.rdp.length !== orders.length)) {
      throw new PrivacyParameterError('an RDP curve does not match the budget orders');
    }
    this.spent = state ? [...state.rdp] : orders.map(() => 0);
    this.rounds = state?.rounds ?? 0;
  }

  /** The budget of a Skellam plan, measured against the plan's own target. */
  static forSkellam(plan: SkellamPlan, state?: BudgetState): PrivacyBudget {
    return new PrivacyBudget(
      { epsilon: plan.target.epsilon, delta: plan.target.delta },
      plan.orders,
      skellamRoundRdp(plan),
      state,
    );
  }

  /** Rounds recorded so far. */
  get roundsRun(): number {
    return this.rounds;
  }

  /** ε spent so far at the budget's δ (0 before any round). */
  epsilonSpent(): number {
    if (this.rounds === 0) return 0;
    return epsilonFromRdp(this.orders, this.spent, this.limits.delta).epsilon;
  }

  /** ε still available (never negative). */
  epsilonLeft(): number {
    return Math.max(0, this.limits.epsilon - this.epsilonSpent());
  }

  /** ε after `more` further worst-case rounds on top of what is spent. */
  epsilonAfter(more: number): number {
    const rdp = this.spent.map((r, i) => r + more * this.worstRoundRdp[i]!);
    return epsilonFromRdp(this.orders, rdp, this.limits.delta).epsilon;
  }

  /** True when one more worst-case round keeps ε within the budget. */
  canRunAnotherRound(): boolean {
    return this.epsilonAfter(1) <= this.limits.epsilon * (1 + RELATIVE_SLACK);
  }

  /** Worst-case rounds that still fit. */
  roundsLeft(): number {
    const fits = (n: number) => this.epsilonAfter(n) <= this.limits.epsilon * (1 + RELATIVE_SLACK);
    if (!fits(1)) return 0;
    let lo = 1;
    let hi = 2;
    while (fits(hi)) {
      if (hi >= 2 ** 40) return Infinity;
      lo = hi;
      hi *= 2;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  /** @throws PrivacyBudgetExhaustedError when another round would exceed the budget */
  assertCanRunAnotherRound(): void {
    if (!this.canRunAnotherRound()) {
      throw new PrivacyBudgetExhaustedError(
        `privacy budget spent: ε ${this.epsilonSpent().toFixed(4)} of ${this.limits.epsilon} after ${this.rounds} rounds; ` +
          `another round would reach ${this.epsilonAfter(1).toFixed(4)}`,
      );
    }
  }

  /**
   * Records a released round. Always records, even past the budget (a release has happened and must
   * be counted); the check belongs before the round, in `assertCanRunAnotherRound`.
   * @param roundRdp the round's actual RDP (e.g. `skellamRoundRdp(plan, survivors)`); worst case by default
   * @throws PrivacyParameterError when the curve does not match the orders
   */
  recordRound(roundRdp: readonly number[] = this.worstRoundRdp): void {
    if (roundRdp.length !== this.orders.length)
      throw new PrivacyParameterError('round RDP does not match the budget orders');
    for (let i = 0; i < this.spent.length; i++) this.spent[i]! += roundRdp[i]!;
    this.rounds++;
  }

  /** The state to persist. */
  toJSON(): BudgetState {
    return { rounds: this.rounds, rdp: [...this.spent] };
  }
}
