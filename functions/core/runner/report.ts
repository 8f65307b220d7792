import {
  RUN_OUTCOMES,
  type RunnerRunSummaryEvent,
  type RunnerStallEvent,
  STALL_ROOT_CAUSES,
  type StallRootCause,
} from '#contracts/agent-events.js';

/**
 * Seed 002's daily report over the runner's stall events and run summaries: the four
 * success criteria, breakdowns of stalls and counts per hour. Pure: the events come
 * from a `RunnerEventSource` (the agent's evidence files, or the control plane's store).
 *
 * Time rules, the same everywhere in this module:
 * - the report covers the 24 h ending at `now`, as the half-open interval (now − 24 h, now]:
 *   an event exactly 24 h old belongs to the previous day's report, one at `now` to this one;
 * - rate windows are sliding (every start time, not fixed 5-minute slots), lie wholly inside
 *   the report period and are half-open the same way, (start, start + width]; a burst that
 *   crosses a clock boundary is seen whole.
 */

/** Length of the report period. */
export const REPORT_PERIOD_MS = 24 * 60 * 60 * 1000;
/** Stall rate: the worst 5-minute window must stay under 0.02 stalls per second (6 stalls fail). */
export const STALL_RATE_WINDOW_MS = 5 * 60 * 1000;
export const STALL_RATE_THRESHOLD_PER_SECOND = 0.02;
/** P95 (nearest rank) of run durations must stay under 60 s. */
export const P95_DURATION_THRESHOLD_MS = 60_000;
export const DURATION_PERCENTILE = 95;
/** Fewer than 3 auto-skips (runs given up at their hard deadline) in the report period. */
export const AUTO_SKIP_THRESHOLD = 3;
/** Failure rate: the worst 10-minute window that has runs must stay under 20 % runs not `success`. */
export const FAILURE_RATE_WINDOW_MS = 10 * 60 * 1000;
export const FAILURE_RATE_THRESHOLD = 0.2;
/** Width of one bucket of the per-hour counts. */
export const HOUR_MS = 60 * 60 * 1000;
/** How many of the most recent stalls the report carries. */
export const RECENT_STALLS = 20;

/** The stall fields `runlane stalls by` and the report's breakdowns group by. */
export const STALL_BREAKDOWN_FIELDS = ['rootCause', 'environment', 'host', 'commandType'] as const;
export type StallBreakdownField = (typeof STALL_BREAKDOWN_FIELDS)[number];

/** The report period: events with `from < ts ≤ to` count. */
export interface ReportWindow {
  readonly from: Date;
  readonly to: Date;
}

/** What a source hands the report: events (at least those in the window) and how many it could not read. */
export interface RunnerEvents {
  readonly stalls: readonly RunnerStallEvent[];
  readonly runs: readonly RunnerRunSummaryEvent[];
  /** Records that were not valid events (invalid lines, a torn last line…), skipped and counted. */
  readonly skipped: number;
  /** What the source wants the reader to know (which file was missing, what was skipped where). */
  readonly notes?: readonly string[];
}

/**
 * Where the report's events come from: the agent's evidence files on a host, or an
 * environment's event store in the control plane.
 *
 * @example
 * const events = await source.load(reportWindow(new Date()));
 */
export interface RunnerEventSource {
  load(window: ReportWindow): Promise<RunnerEvents>;
}

/**
 * The 24 h ending at `now`.
 *
 * @example
 * reportWindow(new Date('2026-05-14T12:00:00Z')).from; // 2026-05-13T12:00:00.000Z
 */
export function reportWindow(now: Date): ReportWindow {
  return { from: new Date(now.getTime() - REPORT_PERIOD_MS), to: new Date(now.getTime()) };
}

/** Whether an event's `ts` lies in the window (from, to]. */
export function inReportWindow(ts: string, window: ReportWindow): boolean {
  const t = Date.parse(ts);
  return t > window.from.getTime() && t <= window.to.getTime();
}

export type CriterionStatus = 'pass' | 'fail' | 'no_data';

/** A window of time, as ISO strings, (from, to]. */
export interface TimeSpan {
  readonly from: string;
  readonly to: string;
}

interface CriterionBase {
  /**
   * `no_data` when the period has nothing to measure (see each criterion); `value` is then
   * null. It is shown as n/a and does not fail the report (`runlane report daily --require-data` makes it fail).
   */
  readonly status: CriterionStatus;
  readonly threshold: number;
}

export interface StallRateCriterion extends CriterionBase {
  readonly id: 'stall_rate';
  /** Stalls per second in the worst 5-minute window. */
  readonly value: number | null;
  readonly worstWindow: (TimeSpan & { readonly stalls: number }) | null;
}

export interface P95DurationCriterion extends CriterionBase {
  readonly id: 'p95_duration';
  /** Milliseconds, nearest rank. */
  readonly value: number | null;
  readonly runs: number;
}

export interface AutoSkipCriterion extends CriterionBase {
  readonly id: 'auto_skips';
  readonly value: number | null;
  /** Run summaries with outcome `hard_timeout`. */
  readonly hardTimeoutRuns: number;
  /** Stall events with `timeout: hard` whose run summary is not in the period (the runs file lags or is absent). */
  readonly hardStallsWithoutRun: number;
}

export interface FailureRateCriterion extends CriterionBase {
  readonly id: 'failure_rate';
  /** Ratio 0–1 of runs not `success` in the worst 10-minute window that has runs. */
  readonly value: number | null;
  readonly worstWindow: (TimeSpan & { readonly runs: number; readonly failed: number }) | null;
}

export interface ReportCriteria {
  readonly stallRate: StallRateCriterion;
  readonly p95Duration: P95DurationCriterion;
  readonly autoSkips: AutoSkipCriterion;
  readonly failureRate: FailureRateCriterion;
}

export interface BreakdownEntry {
  readonly value: string;
  readonly count: number;
  /** count / total, 0–1. */
  readonly share: number;
}

export interface HourBucket {
  /** The hour (from, to]; hours are counted back from `now`, so there are always 24. */
  readonly from: string;
  readonly to: string;
  readonly stalls: number;
  readonly stallsByRootCause: Readonly<Record<StallRootCause, number>>;
  readonly runs: number;
  /** Runs whose outcome is not `success`. */
  readonly failedRuns: number;
}

export interface DailyReport {
  readonly window: TimeSpan;
  /** True when no criterion failed (`no_data` does not fail). */
  readonly passed: boolean;
  readonly criteria: ReportCriteria;
  readonly totals: {
    readonly stalls: number;
    readonly runs: number;
    readonly failedRuns: number;
    readonly runsByOutcome: Readonly<Record<(typeof RUN_OUTCOMES)[number], number>>;
    /** Records the source could not read, skipped. */
    readonly skipped: number;
  };
  readonly breakdowns: Readonly<Record<StallBreakdownField, readonly BreakdownEntry[]>>;
  readonly hourly: readonly HourBucket[];
  /** The newest stalls of the period, newest first. */
  readonly recentStalls: readonly RunnerStallEvent[];
  readonly notes: readonly string[];
}

/**
 * Builds the daily report for the 24 h ending at `now`. Events outside the period are
 * ignored, duplicates (same `id`) counted once.
 *
 * Criteria:
 * - stall rate: stalls in the worst sliding 5-minute window / 300 s, pass when < 0.02/s;
 *   no data when the period has neither stalls nor runs (zero stalls with runs is a real 0);
 * - P95 duration: nearest-rank 95th percentile of the runs' `durationMs`, pass when < 60 s;
 *   no data without runs;
 * - auto-skips: runs the watchdog gave up on at their hard deadline — run summaries with
 *   outcome `hard_timeout`, plus `timeout: hard` stalls whose summary is missing — pass when < 3;
 *   no data when the period has neither stalls nor runs;
 * - failure rate: worst sliding 10-minute window of (runs not `success`) / runs, among windows
 *   with at least one run, pass when < 20 %; no data without runs.
 *
 * @example
 * const report = buildDailyReport(await source.load(reportWindow(now)), now);
 * if (!report.passed) process.exitCode = 1;
 */
export function buildDailyReport(events: RunnerEvents, now: Date): DailyReport {
  const window = reportWindow(now);
  const stalls = uniqueById(events.stalls.filter((e) => inReportWindow(e.ts, window))).sort(byTs);
  const runs = uniqueById(events.runs.filter((e) => inReportWindow(e.ts, window))).sort(byTs);
  const hasData = stalls.length > 0 || runs.length > 0;

  const criteria: ReportCriteria = {
    stallRate: stallRateCriterion(stalls, window, hasData),
    p95Duration: p95Criterion(runs),
    autoSkips: autoSkipCriterion(stalls, runs, hasData),
    failureRate: failureRateCriterion(runs, window),
  };
  const runsByOutcome = Object.fromEntries(RUN_OUTCOMES.map((o) => [o, 0])) as Record<
    (typeof RUN_OUTCOMES)[number],
    number
  >;
  for (const run of runs) runsByOutcome[run.outcome] += 1;

  return {
    window: span(window.from.getTime(), window.to.getTime()),
    passed: Object.values(criteria).every((c) => c.status !== 'fail'),
    criteria,
    totals: {
      stalls: stalls.length,
      runs: runs.length,
      failedRuns: runs.length - runsByOutcome.success,
      runsByOutcome,
      skipped: events.skipped,
    },
    breakdowns: Object.fromEntries(STALL_BREAKDOWN_FIELDS.map((f) => [f, countBy(stalls, f)])) as Record<
      StallBreakdownField,
      BreakdownEntry[]
    >,
    hourly: hourlyBuckets(stalls, runs, window),
    recentStalls: stalls.slice(-RECENT_STALLS).reverse(),
    notes: [...(events.notes ?? [])],
  };
}

/**
 * Counts stalls per value of one field, most frequent first (ties by value), with each
 * value's share of the total: the seed's `Group-Object`.
 *
 * @example
 * countBy(stalls, 'rootCause'); // [{ value: 'network', count: 3, share: 0.75 }, …]
 */
export function countBy(stalls: readonly RunnerStallEvent[], field: StallBreakdownField): BreakdownEntry[] {
  const counts = new Map<string, number>();
  for (const stall of stalls) counts.set(stall[field], (counts.get(stall[field]) ?? 0) + 1);
  return [...counts]
    .map(([value, count]) => ({ value, count, share: count / stalls.length }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

/**
 * Nearest-rank percentile: the smallest value with at least p % of the values at or below
 * it (rank ⌈p/100 · n⌉ of the sorted values). Undefined for no values.
 *
 * @example
 * nearestRankPercentile([1, 2, 3, 4], 95); // 4
 */
export function nearestRankPercentile(values: readonly number[], percentile: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((percentile * sorted.length) / 100));
  return sorted[Math.min(rank, sorted.length) - 1];
}

function stallRateCriterion(
  stalls: readonly RunnerStallEvent[],
  window: ReportWindow,
  hasData: boolean,
): StallRateCriterion {
  const base = { id: 'stall_rate', threshold: STALL_RATE_THRESHOLD_PER_SECOND } as const;
  if (!hasData) return { ...base, status: 'no_data', value: null, worstWindow: null };
  let worst: WindowCount | undefined;
  for (const candidate of slidingWindows(
    stalls.map((s) => ({ t: Date.parse(s.ts), flagged: true })),
    window,
    STALL_RATE_WINDOW_MS,
  )) {
    if (!worst || candidate.total > worst.total) worst = candidate;
  }
  const count = worst?.total ?? 0;
  const value = count / (STALL_RATE_WINDOW_MS / 1000);
  return {
    ...base,
    status: value < STALL_RATE_THRESHOLD_PER_SECOND ? 'pass' : 'fail',
    value,
    worstWindow: worst && count > 0 ? { ...span(worst.from, worst.to), stalls: count } : null,
  };
}

function p95Criterion(runs: readonly RunnerRunSummaryEvent[]): P95DurationCriterion {
  const value = nearestRankPercentile(
    runs.map((r) => r.durationMs),
    DURATION_PERCENTILE,
  );
  const base = { id: 'p95_duration', threshold: P95_DURATION_THRESHOLD_MS, runs: runs.length } as const;
  if (value === undefined) return { ...base, status: 'no_data', value: null };
  return { ...base, status: value < P95_DURATION_THRESHOLD_MS ? 'pass' : 'fail', value };
}

function autoSkipCriterion(
  stalls: readonly RunnerStallEvent[],
  runs: readonly RunnerRunSummaryEvent[],
  hasData: boolean,
): AutoSkipCriterion {
  const hardRuns = runs.filter((r) => r.outcome === 'hard_timeout');
  const summarized = new Set(hardRuns.map((r) => r.stallId).filter((id) => id !== undefined));
  const hardStallsWithoutRun = stalls.filter((s) => s.timeout === 'hard' && !summarized.has(s.id)).length;
  const base = {
    id: 'auto_skips',
    threshold: AUTO_SKIP_THRESHOLD,
    hardTimeoutRuns: hardRuns.length,
    hardStallsWithoutRun,
  } as const;
  if (!hasData) return { ...base, status: 'no_data', value: null };
  const value = hardRuns.length + hardStallsWithoutRun;
  return { ...base, status: value < AUTO_SKIP_THRESHOLD ? 'pass' : 'fail', value };
}

function failureRateCriterion(
  runs: readonly RunnerRunSummaryEvent[],
  window: ReportWindow,
): FailureRateCriterion {
  let worst: WindowCount | undefined;
  for (const candidate of slidingWindows(
    runs.map((r) => ({ t: Date.parse(r.ts), flagged: r.outcome !== 'success' })),
    window,
    FAILURE_RATE_WINDOW_MS,
  )) {
    if (candidate.total === 0) continue; // a window without runs has no failure rate
    if (!worst) {
      worst = candidate;
      continue;
    }
    // Compare flagged/total without division; on a tie prefer the window with more runs.
    const diff = candidate.flagged * worst.total - worst.flagged * candidate.total;
    if (diff > 0 || (diff === 0 && candidate.total > worst.total)) worst = candidate;
  }
  const base = { id: 'failure_rate', threshold: FAILURE_RATE_THRESHOLD } as const;
  if (!worst) return { ...base, status: 'no_data', value: null, worstWindow: null };
  const value = worst.flagged / worst.total;
  return {
    ...base,
    status: value < FAILURE_RATE_THRESHOLD ? 'pass' : 'fail',
    value,
    worstWindow: { ...span(worst.from, worst.to), runs: worst.total, failed: worst.flagged },
  };
}

interface WindowCount {
  readonly from: number;
  readonly to: number;
  readonly total: number;
  readonly flagged: number;
}

/**
 * Every distinct sliding window (start, start + width] inside the period, with how many
 * points (and flagged points) it holds. A point at t is inside for starts in
 * [t − width, t), so the contents only change at those starts: checking them, plus the
 * period's first start, visits every distinct window. Points must be sorted by t.
 */
function* slidingWindows(
  points: readonly { readonly t: number; readonly flagged: boolean }[],
  window: ReportWindow,
  width: number,
): Generator<WindowCount> {
  const first = window.from.getTime();
  const last = Math.max(first, window.to.getTime() - width);
  const times = points.map((p) => p.t);
  const flaggedBefore = [0];
  for (const p of points) flaggedBefore.push((flaggedBefore.at(-1) ?? 0) + (p.flagged ? 1 : 0));
  const starts = new Set<number>([first]);
  for (const t of times) {
    for (const start of [t - width, t]) if (start >= first && start <= last) starts.add(start);
  }
  for (const start of [...starts].sort((a, b) => a - b)) {
    const lo = countAtOrBefore(times, start);
    const hi = countAtOrBefore(times, start + width);
    yield {
      from: start,
      to: start + width,
      total: hi - lo,
      flagged: (flaggedBefore[hi] ?? 0) - (flaggedBefore[lo] ?? 0),
    };
  }
}

/** How many of the sorted times are ≤ t. */
function countAtOrBefore(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((times[mid] ?? 0) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function hourlyBuckets(
  stalls: readonly RunnerStallEvent[],
  runs: readonly RunnerRunSummaryEvent[],
  window: ReportWindow,
): HourBucket[] {
  const from = window.from.getTime();
  const count = Math.ceil(REPORT_PERIOD_MS / HOUR_MS);
  const buckets = Array.from({ length: count }, (_, i) => ({
    ...span(from + i * HOUR_MS, from + (i + 1) * HOUR_MS),
    stalls: 0,
    stallsByRootCause: Object.fromEntries(STALL_ROOT_CAUSES.map((c) => [c, 0])) as Record<
      StallRootCause,
      number
    >,
    runs: 0,
    failedRuns: 0,
  }));
  // Bucket i is (from + i h, from + (i + 1) h]: an event exactly on a boundary closes the earlier hour.
  const bucketOf = (ts: string) => buckets[Math.ceil((Date.parse(ts) - from) / HOUR_MS) - 1];
  for (const stall of stalls) {
    const bucket = bucketOf(stall.ts);
    if (!bucket) continue;
    bucket.stalls += 1;
    bucket.stallsByRootCause[stall.rootCause] += 1;
  }
  for (const run of runs) {
    const bucket = bucketOf(run.ts);
    if (!bucket) continue;
    bucket.runs += 1;
    if (run.outcome !== 'success') bucket.failedRuns += 1;
  }
  return buckets;
}

function uniqueById<T extends { readonly id: string }>(events: readonly T[]): T[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    if (seen.has(e.id)) return false;
    seen.add(e.id);
    return true;
  });
}

function byTs(a: { readonly ts: string }, b: { readonly ts: string }): number {
  return Date.parse(a.ts) - Date.parse(b.ts);
}

function span(from: number, to: number): TimeSpan {
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}
