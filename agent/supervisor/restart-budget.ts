/**
 * A child's restart budget: a token bucket (OTP's restart intensity, made continuous).
 * Each automatic restart takes one token; tokens refill at `capacity / refillWindowMs`
 * per ms up to `capacity`. A restart due while less than one token is left means the
 * child restarts faster than the budget allows: it is quarantined instead.
 *
 * @example
 * const bucket = new RestartBudget(3, 60_000, () => performance.now());
 * bucket.take(); // true (2 left)
 */
export class RestartBudget {
  private level: number;
  private at: number;

  public constructor(
    public readonly capacity: number,
    public readonly refillWindowMs: number,
    private readonly now: () => number,
  ) {
    this.level = capacity;
    this.at = now();
  }

  /** Whole tokens left (seed 001's `restart_budget.tokens`). */
  public get tokens(): number {
    this.refill();
    return Math.floor(this.level + 1e-9);
  }

  /** Takes a token; false (nothing taken) when less than one is left. */
  public take(): boolean {
    this.refill();
    if (this.level + 1e-9 < 1) return false;
    this.level -= 1;
    return true;
  }

  /** A full bucket again (`release-child`). */
  public reset(): void {
    this.level = this.capacity;
    this.at = this.now();
  }

  private refill(): void {
    const now = this.now();
    const elapsed = Math.max(0, now - this.at);
    this.at = now;
    this.level = Math.min(this.capacity, this.level + (elapsed * this.capacity) / this.refillWindowMs);
  }
}

export interface BackoffSettings {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
}

/**
 * Delay before the `attempt`-th consecutive restart (1-based):
 * `min(maxMs, initialMs * multiplier^(attempt - 1))`.
 *
 * @example
 * backoffDelay({ initialMs: 100, maxMs: 1_000, multiplier: 2 }, 3); // 400
 */
export function backoffDelay(settings: BackoffSettings, attempt: number): number {
  const raw = settings.initialMs * settings.multiplier ** Math.max(0, attempt - 1);
  return Math.round(Math.min(settings.maxMs, raw));
}
