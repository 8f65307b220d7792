import { type BreakdownEntry, type DailyReport, STALL_BREAKDOWN_FIELDS } from '#core/runner/report.js';
import { criterionRows, formatPercent, plural, printable, STATUS_TEXT } from './format.js';

/** How many values of each breakdown the text shows (the JSON has them all). */
export const TEXT_BREAKDOWN_TOP = 10;

/**
 * The daily report for a terminal: the pass/fail table, totals, breakdowns and notes.
 *
 * @example
 * console.log(renderReportText(report));
 */
export function renderReportText(report: DailyReport): string {
  const { totals } = report;
  const lines = [
    `Runner daily report: 24 h from ${report.window.from} to ${report.window.to}`,
    `${plural(totals.stalls, 'stall')}, ${plural(totals.runs, 'run')} (${totals.failedRuns} not success), ${plural(totals.skipped, 'unreadable line')} skipped`,
    '',
    ...table(
      ['CRITERION', 'VALUE', 'THRESHOLD', 'RESULT', 'DETAIL'],
      criterionRows(report).map((r) => [r.label, r.value, r.threshold, STATUS_TEXT[r.status], r.detail]),
    ),
    '',
    `Result: ${resultLine(report)}`,
  ];
  for (const field of STALL_BREAKDOWN_FIELDS) {
    lines.push('', `Stalls by ${field}`, ...breakdownLines(report.breakdowns[field], TEXT_BREAKDOWN_TOP));
  }
  if (report.notes.length > 0) lines.push('', 'Notes:', ...report.notes.map((n) => `  ${printable(n)}`));
  return lines.join('\n');
}

/** "PASS", "FAIL (failure rate)", "PASS (no data: P95 execution duration)". */
export function resultLine(report: DailyReport): string {
  const rows = criterionRows(report);
  const failed = rows.filter((r) => r.status === 'fail').map((r) => r.label);
  const noData = rows.filter((r) => r.status === 'no_data').map((r) => r.label);
  const head = report.passed ? 'PASS' : `FAIL (${failed.join(', ')})`;
  return noData.length > 0 ? `${head}; no data: ${noData.join(', ')}` : head;
}

/**
 * A breakdown as aligned lines: value, count, share; the rest summed up past `top` values.
 *
 * @example
 * breakdownLines(countBy(stalls, 'host'), 10).forEach((l) => console.log(l));
 */
export function breakdownLines(entries: readonly BreakdownEntry[], top = Number.POSITIVE_INFINITY): string[] {
  if (entries.length === 0) return ['  (no stalls)'];
  const shown = entries.slice(0, top);
  const rest = entries.slice(shown.length);
  const rows = shown.map((e) => [printable(e.value), String(e.count), formatPercent(e.share)]);
  if (rest.length > 0) {
    const count = rest.reduce((sum, e) => sum + e.count, 0);
    const share = rest.reduce((sum, e) => sum + e.share, 0);
    rows.push([`(${plural(rest.length, 'other value')})`, String(count), formatPercent(share)]);
  }
  return table(undefined, rows, ['left', 'right', 'right']).map((l) => `  ${l}`);
}

/** Aligned columns, two spaces apart; the last column is not padded. */
export function table(
  header: readonly string[] | undefined,
  rows: readonly (readonly string[])[],
  align: readonly ('left' | 'right')[] = [],
): string[] {
  const all = header ? [header, ...rows] : rows;
  const widths: number[] = [];
  for (const row of all) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return all.map((row) =>
    row
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        if (align[i] === 'right') return cell.padStart(width);
        return i === row.length - 1 ? cell : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd(),
  );
}
