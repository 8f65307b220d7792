import { STALL_ROOT_CAUSES, type StallRootCause } from '#contracts/agent-events.js';
import { type BreakdownEntry, type DailyReport, STALL_BREAKDOWN_FIELDS } from '#core/runner/report.js';
import { criterionRows, formatDuration, formatPercent, plural, STATUS_TEXT } from './format.js';
import { resultLine } from './render-text.js';

/** Where the report's events came from, shown under the title. */
export interface HtmlReportContext {
  readonly sources: readonly string[];
}

/** How many values of each breakdown the HTML charts (the JSON has them all). */
export const HTML_BREAKDOWN_TOP = 15;
/** How many evidence lines of one stall the HTML shows. */
export const HTML_EVIDENCE_LINES = 10;

export const ROOT_CAUSE_COLORS: Readonly<Record<StallRootCause, string>> = {
  io_wait: '#8c564b',
  network: '#1f77b4',
  child_hang: '#d62728',
  lock: '#9467bd',
  cpu_starve: '#ff7f0e',
};
const SUCCESS_COLOR = '#2ca02c';
const FAILED_COLOR = '#d62728';

/**
 * Escapes text for HTML (and inline SVG) element content and quoted attribute values.
 * Every value that comes from an event or a file name goes through it: hosts, command
 * types and evidence lines are written by whatever ran on the host.
 *
 * @example
 * escapeHtml('<script>'); // '&lt;script&gt;'
 */
export function escapeHtml(value: string | number): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/**
 * The daily report as one self-contained HTML page: the pass/fail table, stalls and runs per
 * hour, breakdown bars and the latest stalls, with inline CSS and inline SVG charts. It loads
 * nothing and runs no script; its Content-Security-Policy forbids both, in case a value ever
 * slipped through unescaped.
 *
 * @example
 * await writeFile('daily-report.html', renderReportHtml(report, { sources: [file] }));
 */
export function renderReportHtml(report: DailyReport, context: HtmlReportContext): string {
  const rows = criterionRows(report);
  const day = report.window.to.slice(0, 10);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Runner daily report ${escapeHtml(day)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; } .no_data { color: #6e7781; font-weight: 600; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; color: #fff; }
.badge.pass { background: #1a7f37; } .badge.fail { background: #cf222e; }
.muted { color: #6e7781; } .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr)); gap: 1rem; }
.evidence { font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
.legend span { display: inline-block; margin-right: 1rem; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
</style>
</head>
<body>
<h1>Runner daily report</h1>
<p class="muted">24 h from ${escapeHtml(report.window.from)} to ${escapeHtml(report.window.to)} ·
${escapeHtml(plural(report.totals.stalls, 'stall'))}, ${escapeHtml(plural(report.totals.runs, 'run'))} (${escapeHtml(report.totals.failedRuns)} not success),
${escapeHtml(plural(report.totals.skipped, 'unreadable line'))} skipped<br>
Source: ${context.sources.map(escapeHtml).join(', ')}</p>
<p><span class="badge ${report.passed ? 'pass' : 'fail'}">${report.passed ? 'PASS' : 'FAIL'}</span> ${escapeHtml(resultLine(report))}</p>

<h2>Success criteria</h2>
<table>
<thead><tr><th>Criterion</th><th>Value</th><th>Threshold</th><th>Result</th><th>Detail</th></tr></thead>
<tbody>
${rows
  .map(
    (r) =>
      `<tr><td>${escapeHtml(r.label)}</td><td>${escapeHtml(r.value)}</td><td>${escapeHtml(r.threshold)}</td>` +
      `<td class="${r.status}">${escapeHtml(STATUS_TEXT[r.status])}</td><td>${escapeHtml(r.detail)}</td></tr>`,
  )
  .join('\n')}
</tbody>
</table>
<p class="muted">Windows slide (every start time) and lie inside the 24 h. A criterion without data shows n/a and does not fail the report.
Auto-skip: a run the watchdog gave up on at its hard deadline (outcome hard_timeout).</p>

<h2>Stalls per hour, by root cause</h2>
${legend(STALL_ROOT_CAUSES.map((c) => ({ name: c, color: ROOT_CAUSE_COLORS[c] })))}
${stackedBarChart(
  'Stalls per hour by root cause',
  report.hourly.map((h) => ({
    label: h.from.slice(11, 16),
    title: `${h.from.slice(11, 16)}–${h.to.slice(11, 16)} UTC`,
    segments: STALL_ROOT_CAUSES.map((c) => ({
      name: c,
      value: h.stallsByRootCause[c],
      color: ROOT_CAUSE_COLORS[c],
    })),
  })),
)}

<h2>Runs per hour</h2>
${legend([
  { name: 'success', color: SUCCESS_COLOR },
  { name: 'not success', color: FAILED_COLOR },
])}
${stackedBarChart(
  'Runs per hour, success and not success',
  report.hourly.map((h) => ({
    label: h.from.slice(11, 16),
    title: `${h.from.slice(11, 16)}–${h.to.slice(11, 16)} UTC`,
    segments: [
      { name: 'success', value: h.runs - h.failedRuns, color: SUCCESS_COLOR },
      { name: 'not success', value: h.failedRuns, color: FAILED_COLOR },
    ],
  })),
)}

<h2>Stalls by root cause, environment, host and command type</h2>
<div class="grid">
${STALL_BREAKDOWN_FIELDS.map((field) => `<div><h3>${escapeHtml(field)}</h3>\n${barList(field, report.breakdowns[field])}</div>`).join('\n')}
</div>

<h2>Latest stalls</h2>
${latestStalls(report)}
${
  report.notes.length > 0
    ? `\n<h2>Notes</h2>\n<ul>\n${report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('\n')}\n</ul>`
    : ''
}
</body>
</html>
`;
}

interface Bar {
  readonly label: string;
  readonly title: string;
  readonly segments: readonly { readonly name: string; readonly value: number; readonly color: string }[];
}

function stackedBarChart(title: string, bars: readonly Bar[]): string {
  const width = 760;
  const height = 220;
  const left = 40;
  const right = 10;
  const top = 10;
  const bottom = 30;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const max = Math.max(1, ...bars.map((b) => b.segments.reduce((sum, s) => sum + s.value, 0)));
  const slot = plotWidth / Math.max(1, bars.length);
  const y = (v: number) => top + plotHeight - (v / max) * plotHeight;
  const ticks = [...new Set([0, Math.round(max / 2), max])];
  const parts: string[] = [];
  for (const tick of ticks) {
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end">${escapeHtml(tick)}</text>`,
    );
  }
  bars.forEach((bar, i) => {
    const x = left + i * slot + slot * 0.1;
    let base = 0;
    const total = bar.segments.reduce((sum, s) => sum + s.value, 0);
    for (const segment of bar.segments) {
      if (segment.value <= 0) continue;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(base + segment.value).toFixed(1)}" width="${(slot * 0.8).toFixed(1)}" ` +
          `height="${((segment.value / max) * plotHeight).toFixed(1)}" fill="${escapeHtml(segment.color)}">` +
          `<title>${escapeHtml(`${bar.title}: ${segment.value} ${segment.name} (of ${total})`)}</title></rect>`,
      );
      base += segment.value;
    }
    if (i % 3 === 0) {
      parts.push(
        `<text x="${(left + i * slot + slot / 2).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle">${escapeHtml(bar.label)}</text>`,
      );
    }
  });
  parts.push(
    `<line x1="${left}" x2="${width - right}" y1="${top + plotHeight}" y2="${top + plotHeight}" stroke="#999"/>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${escapeHtml(title)}">\n${parts.join('\n')}\n</svg>`;
}

function barList(field: string, entries: readonly BreakdownEntry[]): string {
  if (entries.length === 0) return '<p class="muted">No stalls.</p>';
  const shown = entries.slice(0, HTML_BREAKDOWN_TOP);
  const rest = entries.length - shown.length;
  const width = 420;
  const labelWidth = 150;
  const valueWidth = 90;
  const row = 22;
  const max = Math.max(...shown.map((e) => e.count));
  const color = (value: string) =>
    field === 'rootCause' && value in ROOT_CAUSE_COLORS
      ? ROOT_CAUSE_COLORS[value as StallRootCause]
      : '#4c72b0';
  const rows = shown.map((entry, i) => {
    const y = i * row;
    const barWidth = Math.max(1, (entry.count / max) * (width - labelWidth - valueWidth));
    // Cut long values before escaping, never an escape in half.
    const label = entry.value.length > 24 ? `${entry.value.slice(0, 23)}…` : entry.value;
    return (
      `<text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end">${escapeHtml(label)}<title>${escapeHtml(entry.value)}</title></text>` +
      `<rect x="${labelWidth}" y="${y + 4}" width="${barWidth.toFixed(1)}" height="${row - 8}" fill="${escapeHtml(color(entry.value))}"/>` +
      `<text x="${(labelWidth + barWidth + 6).toFixed(1)}" y="${y + 15}">${escapeHtml(`${entry.count} (${formatPercent(entry.share)})`)}</text>`
    );
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${shown.length * row}" width="100%" role="img" aria-label="${escapeHtml(`Stalls by ${field}`)}">\n${rows.join('\n')}\n</svg>`;
  return rest > 0 ? `${svg}\n<p class="muted">and ${escapeHtml(plural(rest, 'other value'))}</p>` : svg;
}

function legend(items: readonly { readonly name: string; readonly color: string }[]): string {
  return `<p class="legend">${items
    .map((i) => `<span><i style="background:${escapeHtml(i.color)}"></i>${escapeHtml(i.name)}</span>`)
    .join('')}</p>`;
}

function latestStalls(report: DailyReport): string {
  if (report.recentStalls.length === 0) return '<p class="muted">No stalls in the period.</p>';
  const rows = report.recentStalls.map((s) => {
    const evidence = s.evidence.slice(0, HTML_EVIDENCE_LINES).map((line) => escapeHtml(line));
    if (s.evidence.length > HTML_EVIDENCE_LINES)
      evidence.push(escapeHtml(`… ${s.evidence.length - HTML_EVIDENCE_LINES} more`));
    return (
      `<tr><td>${escapeHtml(s.ts)}</td><td>${escapeHtml(s.environment)}</td><td>${escapeHtml(s.host)}</td>` +
      `<td>${escapeHtml(s.commandType)}</td><td>${escapeHtml(s.rootCause)}</td><td>${escapeHtml(s.timeout)}</td>` +
      `<td>${escapeHtml(formatDuration(s.elapsedMs))}</td><td class="evidence">${evidence.join('\n')}</td></tr>`
    );
  });
  return `<table>
<thead><tr><th>Time (UTC)</th><th>Environment</th><th>Host</th><th>Command type</th><th>Root cause</th><th>Timeout</th><th>Elapsed</th><th>Evidence</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}
