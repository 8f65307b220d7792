import type { CriterionStatus, DailyReport, TimeSpan } from '#core/runner/report.js';

/** One line of the pass/fail table, already formatted; shared by the text and HTML reports. */
export interface CriterionRow {
  readonly id: string;
  readonly label: string;
  readonly value: string;
  readonly threshold: string;
  readonly status: CriterionStatus;
  readonly detail: string;
}

export const STATUS_TEXT: Readonly<Record<CriterionStatus, string>> = {
  pass: 'pass',
  fail: 'FAIL',
  no_data: 'n/a',
};

/**
 * The four criteria of a report as table rows, in the seed's order.
 *
 * @example
 * for (const row of criterionRows(report)) console.log(row.label, row.value, row.status);
 */
export function criterionRows(report: DailyReport): CriterionRow[] {
  const { stallRate, p95Duration, autoSkips, failureRate } = report.criteria;
  return [
    {
      id: stallRate.id,
      label: 'Stall rate (5 min window)',
      value: stallRate.value === null ? 'n/a' : `${stallRate.value.toFixed(4)}/s`,
      threshold: `< ${stallRate.threshold}/s`,
      status: stallRate.status,
      detail:
        stallRate.status === 'no_data'
          ? 'no stalls and no runs in the period'
          : stallRate.worstWindow
            ? `${plural(stallRate.worstWindow.stalls, 'stall')} in ${formatSpan(stallRate.worstWindow)} (worst sliding window)`
            : `no stalls in ${plural(report.totals.runs, 'run')}`,
    },
    {
      id: p95Duration.id,
      label: 'P95 execution duration',
      value: p95Duration.value === null ? 'n/a' : formatDuration(p95Duration.value),
      threshold: `< ${formatDuration(p95Duration.threshold)}`,
      status: p95Duration.status,
      detail:
        p95Duration.status === 'no_data'
          ? 'no run summaries in the period'
          : `nearest rank over ${plural(p95Duration.runs, 'run')}`,
    },
    {
      id: autoSkips.id,
      label: 'Auto-skip events (24 h)',
      value: autoSkips.value === null ? 'n/a' : String(autoSkips.value),
      threshold: `< ${autoSkips.threshold}`,
      status: autoSkips.status,
      detail:
        autoSkips.status === 'no_data'
          ? 'no stalls and no runs in the period'
          : `${plural(autoSkips.hardTimeoutRuns, 'hard_timeout run')}` +
            (autoSkips.hardStallsWithoutRun > 0
              ? ` + ${plural(autoSkips.hardStallsWithoutRun, 'hard-timeout stall')} without a run summary`
              : ''),
    },
    {
      id: failureRate.id,
      label: 'Failure rate (10 min window)',
      value: failureRate.value === null ? 'n/a' : formatPercent(failureRate.value),
      threshold: `< ${formatPercent(failureRate.threshold)}`,
      status: failureRate.status,
      detail: failureRate.worstWindow
        ? `${failureRate.worstWindow.failed} of ${plural(failureRate.worstWindow.runs, 'run')} not success in ${formatSpan(failureRate.worstWindow)} (worst sliding window)`
        : 'no run summaries in the period',
    },
  ];
}

/** "2026-05-14 12:58:00–13:03:00 UTC" (the end's date too when it differs). */
export function formatSpan(span: TimeSpan): string {
  const from = span.from.slice(0, 19).replace('T', ' ');
  const sameDay = span.from.slice(0, 10) === span.to.slice(0, 10);
  const to = sameDay ? span.to.slice(11, 19) : span.to.slice(0, 19).replace('T', ' ');
  return `${from}–${to} UTC`;
}

/** "41.2 s", "850 ms", "60 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** "33.3 %". */
export function formatPercent(ratio: number): string {
  return `${Number((ratio * 100).toFixed(1))} %`;
}

export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * A value from an event, safe to print on a terminal: control characters (escape
 * sequences, carriage returns, newlines) are shown as \u escapes instead of acting.
 */
export function printable(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/**
 * "42s", "16m 5s", "3h 2m", "2d 4h"; a report ahead of this machine's clock shows as "-5s".
 *
 * @example
 * formatAge(965_000); // '16m 5s'
 */
export function formatAge(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let seconds = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(seconds / 86_400);
  seconds -= days * 86_400;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  if (days > 0) return `${sign}${days}d ${hours}h`;
  if (hours > 0) return `${sign}${hours}h ${minutes}m`;
  if (minutes > 0) return `${sign}${minutes}m ${seconds}s`;
  return `${sign}${seconds}s`;
}
