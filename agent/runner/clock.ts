/**
 * Time as the watchdog sees it; injectable so tests can control it.
 * `now()` is monotonic (ms) and measures deadlines; `date()` stamps events.
 */
export interface Clock {
  now(): number;
  date(): Date;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's clocks: `performance.now()` for deadlines, `new Date()` for stamps. */
export const systemClock: Clock = {
  now: () => performance.now(),
  date: () => new Date(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
