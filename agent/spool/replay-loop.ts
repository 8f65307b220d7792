import type { ReplayLoopOptions, ReplayOptions, ReplayResult, SpoolDeliver } from './types.js';

/** What the loop needs from a spool. */
export interface Replayable {
  replay(deliver: SpoolDeliver, options?: ReplayOptions): Promise<ReplayResult>;
}

/**
 * Background replay: one round now, then one round `intervalMs` after each round ends
 * (rounds never overlap). Its timer does not keep the process alive. Created by
 * `OfflineSpool.startReplayLoop`.
 *
 * @example
 * const loop = spool.startReplayLoop({ intervalMs: 5_000, deliver });
 * // ... on shutdown:
 * await loop.stop(); // waits for an in-flight round
 */
export class ReplayLoop {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private stopped = false;

  public constructor(
    private readonly spool: Replayable,
    private readonly options: ReplayLoopOptions,
  ) {}

  /** Starts the loop (the first round runs at once). Idempotent. */
  public start(): this {
    if (this.stopped || this.current || this.timer) return this;
    this.runRound();
    return this;
  }

  /** Runs a round now unless one is in flight (e.g. when connectivity is back). */
  public wake(): void {
    if (this.stopped || this.current) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.runRound();
  }

  /** Stops scheduling rounds and waits for the in-flight one, if any. */
  public async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private runRound(): void {
    this.current = this.round().finally(() => {
      this.current = undefined;
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.runRound();
      }, this.options.intervalMs);
      this.timer.unref();
    });
  }

  /** Never rejects: a failing round (or callback) must not stop the loop or crash the process. */
  private async round(): Promise<void> {
    const { deliver, batchSize, onRound, onError } = this.options;
    try {
      onRound?.(await this.spool.replay(deliver, batchSize === undefined ? {} : { batchSize }));
    } catch (error) {
      try {
        onError?.(error);
      } catch {
        // a throwing error callback has nowhere left to report to
      }
    }
  }
}
