import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RunnerRunSummaryEvent, RunnerStallEvent } from '#contracts/agent-events.js';
import {
  AUTO_SKIP_THRESHOLD,
  buildDailyReport,
  countBy,
  FAILURE_RATE_WINDOW_MS,
  nearestRankPercentile,
  RECENT_STALLS,
  REPORT_PERIOD_MS,
  type RunnerEvents,
  reportWindow,
  STALL_RATE_WINDOW_MS,
} from '#core/runner/report.js';
import { ago, aRun, aStall, HOUR, MINUTE, NOW, SECOND } from '../support/runner-events.js';

const report = (events: Partial<RunnerEvents>, now = NOW) =>
  buildDailyReport({ stalls: [], runs: [], skipped: 0, ...events }, now);

/** A stall at a UTC wall-clock time on NOW's day. */
const stallAt = (hhmmss: string, overrides: Partial<RunnerStallEvent> = {}) =>
  aStall({ ts: `2026-05-14T${hhmmss}.000Z`, ...overrides });
const runAt = (ts: string, overrides: Partial<RunnerRunSummaryEvent> = {}) => aRun({ ts, ...overrides });

describe('report period', () => {
  it('is (now − 24 h, now]: an event exactly 24 h old is out, one at now is in', () => {
    const stalls = [
      aStall({ ts: ago(REPORT_PERIOD_MS), host: 'exactly-24h-old' }),
      aStall({ ts: ago(REPORT_PERIOD_MS - 1), host: 'just-inside' }),
      aStall({ ts: ago(0), host: 'at-now' }),
      aStall({ ts: ago(-1), host: 'after-now' }),
    ];
    const runs = [aRun({ ts: ago(REPORT_PERIOD_MS) }), aRun({ ts: ago(0) })];

    const built = report({ stalls, runs });

    expect(built.window).toEqual({ from: '2026-05-13T12:00:00.000Z', to: '2026-05-14T12:00:00.000Z' });
    expect(built.breakdowns.host.map((e) => e.value).sort()).toEqual(['at-now', 'just-inside']);
    expect(built.totals).toMatchObject({ stalls: 2, runs: 1 });
  });

  it('accepts timestamps with an offset, compared as instants', () => {
    // 13:30+02:00 is 11:30Z: inside. 14:00:01+02:00 is 12:00:01Z: after now.
    const stalls = [aStall({ ts: '2026-05-14T13:30:00+02:00' }), aStall({ ts: '2026-05-14T14:00:01+02:00' })];
    expect(report({ stalls }).totals.stalls).toBe(1);
  });

  it('counts an event repeated with the same id once', () => {
    const stall = aStall({ timeout: 'hard' });
    const run = aRun({ outcome: 'failure' });
    const built = report({ stalls: [stall, stall], runs: [run, { ...run }] });
    expect(built.totals).toMatchObject({ stalls: 1, runs: 1, failedRuns: 1 });
    expect(built.criteria.autoSkips.value).toBe(1);
  });
});

describe('stall rate (worst sliding 5-minute window)', () => {
  it('passes with 5 stalls in 5 minutes (0.0167/s) and fails with 6 (0.02/s is not < 0.02)', () => {
    const five = Array.from({ length: 5 }, (_, i) => stallAt(`10:0${i}:00`));
    const six = [...five, stallAt('10:04:59')];

    const passing = report({ stalls: five }).criteria.stallRate;
    const failing = report({ stalls: six }).criteria.stallRate;

    expect(passing).toMatchObject({ status: 'pass', value: 5 / 300 });
    expect(failing).toMatchObject({ status: 'fail', value: 6 / 300 });
    expect(failing.worstWindow?.stalls).toBe(6);
  });

  it('sees a burst that crosses the hour whole (fixed 5-minute slots would split it 3 + 3)', () => {
    const burst = ['12:57:40', '12:58:30', '12:59:30', '13:00:30', '13:01:30', '13:02:30'];
    const stalls = burst.map((t) => aStall({ ts: `2026-05-13T${t}.000Z` }));
    const stallRate = report({ stalls }).criteria.stallRate;
    expect(stallRate).toMatchObject({ status: 'fail', value: 6 / 300 });
    const window = stallRate.worstWindow;
    expect(Date.parse(window?.from ?? '')).toBeLessThan(Date.parse('2026-05-13T12:57:40Z'));
    expect(Date.parse(window?.to ?? '')).toBeGreaterThanOrEqual(Date.parse('2026-05-13T13:02:30Z'));
    expect(Date.parse(window?.to ?? '') - Date.parse(window?.from ?? '')).toBe(STALL_RATE_WINDOW_MS);
  });

  it('uses half-open windows: two stalls exactly 300 s apart are never in the same window', () => {
    // 6 stalls at 0, 60, …, 300 s: any (start, start + 300 s] holds at most 5 of them.
    const stalls = Array.from({ length: 6 }, (_, i) => stallAt(`10:0${i}:00`));
    expect(report({ stalls }).criteria.stallRate).toMatchObject({ status: 'pass', value: 5 / 300 });
  });

  it('only counts windows inside the period: stalls just before it do not add up with those just after', () => {
    const from = Date.parse(reportWindow(NOW).from.toISOString());
    const stalls = [-90, -60, -30, 30, 60, 90].map((s) =>
      aStall({ ts: new Date(from + s * SECOND).toISOString() }),
    );
    expect(report({ stalls }).criteria.stallRate).toMatchObject({ status: 'pass', value: 3 / 300 });
  });

  it('is a real 0 with runs and no stalls, and no data with neither', () => {
    expect(report({ runs: [aRun()] }).criteria.stallRate).toEqual({
      id: 'stall_rate',
      threshold: 0.02,
      status: 'pass',
      value: 0,
      worstWindow: null,
    });
    expect(report({}).criteria.stallRate).toMatchObject({ status: 'no_data', value: null });
  });

  it('matches a brute-force scan of every whole-second window (property)', () => {
    const from = reportWindow(NOW).from.getTime();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(1, 40_000, 86_400 - 900), fc.integer({ min: -120, max: 900 })), {
          maxLength: 25,
        }),
        (offsets) => {
          const seconds = offsets.map(([base, delta]) => base + delta);
          const stalls = seconds.map((s) => aStall({ ts: new Date(from + s * SECOND).toISOString() }));
          const expected = bruteForceWorst(seconds, 300, () => true);
          const { value } = report({ stalls, runs: [aRun()] }).criteria.stallRate;
          expect(value).toBe(expected.total / 300);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('P95 execution duration (nearest rank)', () => {
  it('takes the value at rank ⌈0.95 · n⌉ of the sorted values', () => {
    const oneToTwenty = Array.from({ length: 20 }, (_, i) => 20 - i);
    expect(nearestRankPercentile(oneToTwenty, 95)).toBe(19);
    expect(nearestRankPercentile([...oneToTwenty, 21], 95)).toBe(20);
    expect(
      nearestRankPercentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        95,
      ),
    ).toBe(95);
    expect(nearestRankPercentile([7], 95)).toBe(7);
    expect(nearestRankPercentile([], 95)).toBeUndefined();
  });

  it('passes when one run in 20 is slow and fails when two are', () => {
    const fast = Array.from({ length: 18 }, (_, i) => aRun({ durationMs: (i + 1) * 1000 }));
    const oneSlow = [...fast, aRun({ durationMs: 30_000 }), aRun({ durationMs: 120_000 })];
    const twoSlow = [...fast, aRun({ durationMs: 90_000 }), aRun({ durationMs: 120_000 })];

    expect(report({ runs: oneSlow }).criteria.p95Duration).toMatchObject({
      status: 'pass',
      value: 30_000,
      runs: 20,
    });
    expect(report({ runs: twoSlow }).criteria.p95Duration).toMatchObject({ status: 'fail', value: 90_000 });
  });

  it('fails at exactly 60 s (the criterion is < 60 s) and has no data without runs, even with stalls', () => {
    expect(report({ runs: [aRun({ durationMs: 60_000 })] }).criteria.p95Duration.status).toBe('fail');
    expect(report({ runs: [aRun({ durationMs: 59_999 })] }).criteria.p95Duration.status).toBe('pass');
    expect(report({ stalls: [aStall()] }).criteria.p95Duration).toMatchObject({
      status: 'no_data',
      value: null,
      runs: 0,
    });
  });
});

describe('auto-skip events (runs given up at their hard deadline)', () => {
  it('counts hard_timeout runs: 2 pass, 3 fail; other outcomes and idle stalls do not count', () => {
    const others = [
      aRun({ outcome: 'failure' }),
      aRun({ outcome: 'idle_timeout' }),
      aRun({ outcome: 'aborted' }),
    ];
    const hard = (n: number) => Array.from({ length: n }, () => aRun({ outcome: 'hard_timeout' }));

    const two = report({ runs: [...others, ...hard(2)], stalls: [aStall({ timeout: 'idle' })] });
    const three = report({ runs: [...others, ...hard(AUTO_SKIP_THRESHOLD)] });

    expect(two.criteria.autoSkips).toMatchObject({ status: 'pass', value: 2, hardTimeoutRuns: 2 });
    expect(three.criteria.autoSkips).toMatchObject({ status: 'fail', value: 3 });
  });

  it('counts a hard-timeout stall once with its run summary, and alone when the summary is missing', () => {
    const linked = aStall({ timeout: 'hard' });
    const orphan = aStall({ timeout: 'hard' });
    const runs = [aRun({ outcome: 'hard_timeout', stallId: linked.id, exitCode: 125 })];

    expect(report({ stalls: [linked, orphan], runs }).criteria.autoSkips).toMatchObject({
      value: 2,
      hardTimeoutRuns: 1,
      hardStallsWithoutRun: 1,
    });
  });

  it('is 0 with runs and no hard deadline hit, and no data with neither stalls nor runs', () => {
    expect(report({ runs: [aRun()] }).criteria.autoSkips).toMatchObject({ status: 'pass', value: 0 });
    expect(report({}).criteria.autoSkips).toMatchObject({ status: 'no_data', value: null });
  });
});

describe('failure rate (worst sliding 10-minute window with runs)', () => {
  /** One run a minute for two hours, ending 1 h before now; `failed` = minutes that fail. */
  const steadyRuns = (failed: readonly number[], outcome: RunnerRunSummaryEvent['outcome'] = 'failure') =>
    Array.from({ length: 120 }, (_, minute) =>
      aRun({
        ts: ago(3 * HOUR - minute * MINUTE),
        outcome: failed.includes(minute) ? outcome : 'success',
      }),
    );

  it('is 1 in 10 for one failure among runs a minute apart: pass', () => {
    const failureRate = report({ runs: steadyRuns([60]) }).criteria.failureRate;
    expect(failureRate).toMatchObject({ status: 'pass', value: 0.1 });
    expect(failureRate.worstWindow).toMatchObject({ runs: 10, failed: 1 });
  });

  it('fails at 2 in 10 (20 % is not < 20 %), for any outcome but success', () => {
    for (const outcome of ['failure', 'idle_timeout', 'hard_timeout', 'aborted'] as const) {
      expect(report({ runs: steadyRuns([60, 61], outcome) }).criteria.failureRate).toMatchObject({
        status: 'fail',
        value: 0.2,
        worstWindow: { runs: 10, failed: 2 },
      });
    }
  });

  it('finds two failures 9 minutes apart across the hour but not 10 minutes apart', () => {
    // Runs a minute apart from 12:40 to 13:19; (t − 10 min, t] holds 10 runs.
    const runsFailingAt = (...failed: string[]) =>
      Array.from({ length: 40 }, (_, i) => {
        const ts = new Date(Date.parse('2026-05-14T12:40:00Z') + i * MINUTE).toISOString();
        return runAt(ts, {
          outcome: failed.some((f) => ts.startsWith(`2026-05-14T${f}`)) ? 'failure' : 'success',
        });
      });
    const later = new Date('2026-05-14T14:00:00Z');

    expect(report({ runs: runsFailingAt('12:55', '13:04') }, later).criteria.failureRate).toMatchObject({
      status: 'fail',
      value: 0.2,
    });
    expect(report({ runs: runsFailingAt('12:55', '13:05') }, later).criteria.failureRate).toMatchObject({
      status: 'pass',
      value: 0.1,
    });
  });

  it('ignores windows without runs: a lone run is its own window, so one failure alone is 100 %', () => {
    const quiet = report({ runs: [aRun({ ts: ago(5 * HOUR) }), aRun({ ts: ago(HOUR) })] }).criteria;
    expect(quiet.failureRate).toMatchObject({
      status: 'pass',
      value: 0,
      worstWindow: { runs: 1, failed: 0 },
    });
    const lone = report({ runs: [...steadyRuns([]), aRun({ ts: ago(20 * HOUR), outcome: 'failure' })] });
    expect(lone.criteria.failureRate).toMatchObject({
      status: 'fail',
      value: 1,
      worstWindow: { runs: 1, failed: 1 },
    });
  });

  it('slides over every start: a window may begin just after a success and end just before the next', () => {
    // success 12:00, failure 12:05, success 12:11: (12:00, 12:10] holds the failure alone.
    const runs = [
      aRun({ ts: '2026-05-14T10:00:00.000Z' }),
      aRun({ ts: '2026-05-14T10:05:00.000Z', outcome: 'failure' }),
      aRun({ ts: '2026-05-14T10:11:00.000Z' }),
    ];
    expect(report({ runs }).criteria.failureRate).toMatchObject({
      value: 1,
      worstWindow: { from: '2026-05-14T10:00:00.000Z', to: '2026-05-14T10:10:00.000Z', runs: 1, failed: 1 },
    });
  });

  it('ends windows by now: the last runs are judged with the 10 minutes before now', () => {
    // A window reaching past now would hold the failure alone (100 %).
    const runs = [aRun({ ts: ago(5 * MINUTE) }), aRun({ ts: ago(MINUTE), outcome: 'failure' })];
    const { failureRate } = report({ runs }).criteria;
    expect(failureRate).toMatchObject({ value: 0.5, worstWindow: { runs: 2, failed: 1 } });
    expect(Date.parse(failureRate.worstWindow?.to ?? '')).toBeLessThanOrEqual(NOW.getTime());
  });

  it('starts windows inside the period: a failure just after its start is judged with the runs after it', () => {
    const from = reportWindow(NOW).from.getTime();
    const runs = Array.from({ length: 10 }, (_, i) =>
      aRun({
        ts: new Date(from + (i + 1) * 30 * SECOND).toISOString(),
        outcome: i === 0 ? 'failure' : 'success',
      }),
    );
    expect(report({ runs }).criteria.failureRate).toMatchObject({
      value: 0.1,
      worstWindow: { runs: 10, failed: 1 },
    });
  });

  it('reports, among equally bad windows, the one with the most runs', () => {
    expect(report({ runs: steadyRuns([]) }).criteria.failureRate).toMatchObject({
      value: 0,
      worstWindow: { runs: 10, failed: 0 },
    });
  });

  it('has no data without runs, even with stalls', () => {
    expect(report({ stalls: [aStall()] }).criteria.failureRate).toEqual({
      id: 'failure_rate',
      threshold: 0.2,
      status: 'no_data',
      value: null,
      worstWindow: null,
    });
  });

  it('matches a brute-force scan of every whole-second window (property)', () => {
    const from = reportWindow(NOW).from.getTime();
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom(1, 50_000, 86_400 - 1800),
            fc.integer({ min: -300, max: 1800 }),
            fc.boolean(),
          ),
          { minLength: 1, maxLength: 25 },
        ),
        (points) => {
          const seconds = points.map(([base, delta]) => base + delta);
          const runs = points.map(([base, delta, failed]) =>
            aRun({
              ts: new Date(from + (base + delta) * SECOND).toISOString(),
              outcome: failed ? 'failure' : 'success',
            }),
          );
          const expected = bruteForceWorst(
            seconds,
            FAILURE_RATE_WINDOW_MS / SECOND,
            (i) => points[i]?.[2] ?? false,
            'ratio',
          );
          const { value } = report({ runs }).criteria.failureRate;
          if (expected.total === 0) expect(value).toBeNull();
          else expect(value).toBe(expected.flagged / expected.total);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('verdict, breakdowns and per-hour counts', () => {
  it('passes when nothing fails, also with criteria without data, and fails when one fails', () => {
    expect(report({ stalls: [aStall()] }).passed).toBe(true);
    expect(report({}).passed).toBe(true);
    expect(report({ runs: [aRun({ durationMs: 61_000 })] }).passed).toBe(false);
  });

  it('counts stalls per value, most first, ties by value, with shares', () => {
    const stalls = [
      aStall({ host: 'b' }),
      aStall({ host: 'a' }),
      aStall({ host: 'c' }),
      aStall({ host: 'c' }),
    ];
    expect(countBy(stalls, 'host')).toEqual([
      { value: 'c', count: 2, share: 0.5 },
      { value: 'a', count: 1, share: 0.25 },
      { value: 'b', count: 1, share: 0.25 },
    ]);
    const built = report({ stalls: [...stalls, aStall({ rootCause: 'io_wait', host: 'c' })] });
    expect(built.breakdowns.rootCause).toEqual([
      { value: 'network', count: 4, share: 0.8 },
      { value: 'io_wait', count: 1, share: 0.2 },
    ]);
    expect(built.breakdowns.environment).toEqual([{ value: 'production', count: 5, share: 1 }]);
    expect(built.breakdowns.commandType).toEqual([{ value: 'build', count: 5, share: 1 }]);
  });

  it('has 24 hours counted back from now; an event on an hour boundary closes the earlier hour', () => {
    const built = report({
      stalls: [
        aStall({ ts: ago(23 * HOUR), rootCause: 'lock' }), // exactly the end of the first hour
        aStall({ ts: ago(23 * HOUR - 1), rootCause: 'io_wait' }),
        aStall({ ts: ago(0), rootCause: 'cpu_starve' }),
        aStall({ ts: ago(30 * MINUTE), rootCause: 'cpu_starve' }),
      ],
      runs: [aRun({ ts: ago(10 * MINUTE), outcome: 'failure' }), aRun({ ts: ago(10 * MINUTE) })],
    });
    expect(built.hourly).toHaveLength(24);
    expect(built.hourly[0]).toMatchObject({
      from: '2026-05-13T12:00:00.000Z',
      to: '2026-05-13T13:00:00.000Z',
      stalls: 1,
      stallsByRootCause: { lock: 1, io_wait: 0 },
    });
    expect(built.hourly[1]).toMatchObject({ stalls: 1, stallsByRootCause: { io_wait: 1 } });
    expect(built.hourly[23]).toMatchObject({
      to: '2026-05-14T12:00:00.000Z',
      stalls: 2,
      stallsByRootCause: { cpu_starve: 2 },
      runs: 2,
      failedRuns: 1,
    });
    expect(built.hourly.reduce((sum, h) => sum + h.stalls, 0)).toBe(4);
  });

  it('keeps the newest stalls, newest first, and passes skipped counts and notes through', () => {
    const stalls = Array.from({ length: RECENT_STALLS + 5 }, (_, i) =>
      aStall({ ts: ago((i + 1) * MINUTE), pid: i + 1 }),
    );
    const built = report({ stalls, skipped: 3, notes: ['f: skipped 3 invalid lines'] });
    expect(built.recentStalls.map((s) => s.pid)).toEqual(
      Array.from({ length: RECENT_STALLS }, (_, i) => i + 1),
    );
    expect(built.totals.skipped).toBe(3);
    expect(built.notes).toEqual(['f: skipped 3 invalid lines']);
  });
});

/**
 * The worst window (start, start + width] over every whole-second start inside the period,
 * for points at whole seconds after the period's start (their contents only change at whole
 * seconds, so this visits every distinct window). `ratio` picks the worst flagged/total among
 * windows with points; otherwise the largest total.
 */
function bruteForceWorst(
  seconds: readonly number[],
  width: number,
  isFlagged: (index: number) => boolean,
  mode: 'count' | 'ratio' = 'count',
): { total: number; flagged: number } {
  let worst = { total: 0, flagged: 0 };
  const period = REPORT_PERIOD_MS / SECOND;
  for (let start = 0; start <= period - width; start++) {
    let total = 0;
    let flagged = 0;
    seconds.forEach((s, i) => {
      if (s > 0 && s <= period && s > start && s <= start + width) {
        total++;
        if (isFlagged(i)) flagged++;
      }
    });
    if (mode === 'count') {
      if (total > worst.total) worst = { total, flagged };
    } else if (total > 0 && (worst.total === 0 || flagged / total > worst.flagged / worst.total)) {
      worst = { total, flagged };
    }
  }
  return worst;
}
