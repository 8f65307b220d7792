import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '#cli/program.js';
import { EvidenceFileSource } from '#cli/report/evidence-source.js';
import type { DailyReport } from '#core/runner/report.js';
import { reportWindow } from '#core/runner/report.js';
import { captureConsole } from '../support/console-capture.js';
import { ago, aRun, aStall, HOUR, jsonLines, MINUTE, NOW } from '../support/runner-events.js';

/**
 * `runlane report daily` and `runlane stalls` through the CLI's dispatcher, in this process,
 * with stdout and stderr captured, over real JSON Lines files in a temporary folder.
 */

let dir: string;
let stallsFile: string;
let runsFile: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'report-cli-'));
  stallsFile = join(dir, 'stall-events.jsonl');
  runsFile = join(dir, 'run-summaries.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function cli(args: readonly string[]) {
  return captureConsole(() => runCli(args));
}

const daily = (...extra: string[]) =>
  cli(['report', 'daily', '--evidence', stallsFile, '--now', NOW.toISOString(), ...extra]);

type ReportJson = DailyReport & { html: string; sources: string[] };

describe('runlane report daily', () => {
  it('reads real files, skips and counts a torn last line and invalid lines, writes the HTML report', async () => {
    const stalls = [aStall({ rootCause: 'io_wait' }), aStall(), aStall({ ts: ago(25 * HOUR) })];
    await writeFile(
      stallsFile,
      `${jsonLines(stalls.slice(0, 2))}{"not":"a stall"}\nnot json at all\n${jsonLines(stalls.slice(2))}{"id":"torn`,
    );
    await writeFile(
      runsFile,
      `${jsonLines([aRun({ durationMs: 1_500 }), aRun({ durationMs: 3_000 })])}{"ts":`,
    );

    const { status, stdout } = await daily('--json');

    expect(status).toBe(0);
    const report = JSON.parse(stdout) as ReportJson;
    expect(report.totals).toMatchObject({ stalls: 2, runs: 2, skipped: 4 });
    expect(report.notes).toEqual([
      `${stallsFile}: skipped 2 invalid lines and an unfinished last line (a write in progress, or a crash)`,
      `${runsFile}: skipped an unfinished last line (a write in progress, or a crash)`,
    ]);
    expect(report.criteria.p95Duration.value).toBe(3_000);
    expect(report.breakdowns.rootCause.map((e) => e.value)).toEqual(['io_wait', 'network']);
    expect(report.html).toBe(join(dir, 'daily-report-2026-05-14.html'));
    expect(report.sources).toEqual([stallsFile, runsFile]);
    expect(await readFile(report.html, 'utf8')).toContain('<h1>Runner daily report</h1>');
  });

  it('prints the pass/fail table, breakdowns and the HTML path as text', async () => {
    await writeFile(stallsFile, jsonLines([aStall({ host: 'build-7' }), aStall({ host: 'build-7' })]));
    await writeFile(runsFile, jsonLines([aRun({ durationMs: 12_300 })]));
    const html = join(dir, 'out', 'report.html');

    const { status, stdout } = await daily('--html', html);

    expect(status).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe(
      'Runner daily report: 24 h from 2026-05-13T12:00:00.000Z to 2026-05-14T12:00:00.000Z',
    );
    expect(lines.find((l) => l.startsWith('P95 execution duration'))).toMatch(
      /^P95 execution duration\s+12\.3 s\s+< 60 s\s+pass\s+nearest rank over 1 run$/,
    );
    expect(lines.find((l) => l.startsWith('Stall rate'))).toMatch(/0\.0067\/s\s+< 0\.02\/s\s+pass/);
    expect(stdout).toContain('Result: PASS');
    expect(stdout).toMatch(/Stalls by host\n {2}build-7\s+2\s+100 %/);
    expect(lines.at(-1)).toBe(`HTML report: ${html}`);
    expect(existsSync(html)).toBe(true);
  });

  it('exits 1 when a criterion fails and names it', async () => {
    await writeFile(stallsFile, '');
    await writeFile(
      runsFile,
      jsonLines(Array.from({ length: 3 }, () => aRun({ outcome: 'hard_timeout', exitCode: 125 }))),
    );

    const { status, stdout } = await daily();

    expect(status).toBe(1);
    expect(stdout).toMatch(/Auto-skip events \(24 h\)\s+3\s+< 3\s+FAIL/);
    expect(stdout).toContain('Result: FAIL (Auto-skip events (24 h), Failure rate (10 min window))');
  });

  it('shows n/a without run summaries and passes, unless --require-data', async () => {
    await writeFile(stallsFile, jsonLines([aStall()]));

    const lenient = await daily();
    const strict = await daily('--require-data');

    expect(lenient.status).toBe(0);
    expect(lenient.stdout).toMatch(/P95 execution duration\s+n\/a\s+< 60 s\s+n\/a\s+no run summaries/);
    expect(lenient.stdout).toContain(`${runsFile} does not exist`);
    expect(lenient.stdout).toContain(
      'Result: PASS; no data: P95 execution duration, Failure rate (10 min window)',
    );
    expect(strict.status).toBe(1);
  });

  it('reads the runs file next to the evidence file unless --runs names one', async () => {
    await writeFile(stallsFile, '');
    await writeFile(runsFile, jsonLines([aRun()]));
    const elsewhere = join(dir, 'other-runs.jsonl');
    await writeFile(elsewhere, jsonLines([aRun(), aRun()]));

    const byDefault = JSON.parse((await daily('--json')).stdout) as ReportJson;
    const named = JSON.parse((await daily('--json', '--runs', elsewhere)).stdout) as ReportJson;

    expect(byDefault.totals.runs).toBe(1);
    expect(named.totals.runs).toBe(2);
  });

  it('exits 1 with a clear message, no stack trace, when a named file is missing or unreadable', async () => {
    const missing = await daily();
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`runlane: no stall evidence at ${stallsFile} (given with --evidence)`);

    await writeFile(stallsFile, '');
    const missingRuns = await daily('--runs', join(dir, 'nope.jsonl'));
    expect(missingRuns.status).toBe(1);
    expect(missingRuns.stderr).toContain('no run summaries at');

    const folder = await cli(['stalls', 'tail', '--evidence', dir]);
    expect(folder.status).toBe(1);
    expect(folder.stderr).toBe(`runlane: cannot read ${dir}: EISDIR`);
  });

  it('exits 2 for an unknown --env, --local without --env, --env with files, a bad --now or an unknown report', async () => {
    const env = await cli(['report', 'daily', '--env', 'qa']);
    expect(env.status).toBe(2);
    expect(env.stderr).toMatch(/^runlane report: --env must be one of dev, staging, prod/);
    expect((await cli(['report', 'daily', '--local'])).stderr).toMatch(/--local needs --env/);
    const noStack = await cli([
      'report',
      'daily',
      '--env',
      'dev',
      '--local',
      '--api-url',
      'http://127.0.0.1:9',
    ]);
    expect(noStack).toMatchObject({ status: 1 });
    expect(noStack.stderr).toMatch(/no local stack answers at http:\/\/127\.0\.0\.1:9/);

    expect((await cli(['report', 'daily', '--env', 'prod', '--evidence', stallsFile])).stderr).toMatch(
      /^runlane report: option '--env <env>' cannot be used with option '--evidence <file>'/,
    );
    const badNow = await cli(['report', 'daily', '--now', 'yesterday']);
    expect(badNow).toMatchObject({ status: 2 });
    expect(badNow.stderr).toContain(
      "option '--now <iso>' argument 'yesterday' is invalid. Expected an ISO 8601 time",
    );
    expect((await cli(['report', 'weekly'])).status).toBe(2);
    expect((await cli(['report', 'daily', '--bogus'])).status).toBe(2);
  });

  it('documents the criteria, no-data handling and exit codes in --help', async () => {
    const { status, stdout } = await cli(['report', 'daily', '--help']);
    expect(status).toBe(0);
    expect(stdout).toContain('auto-skips     runs the watchdog gave up on at their hard deadline');
    expect(stdout).toContain('Exit codes: 0 no criterion failed, 1 a criterion failed');
    expect(stdout).toContain('does not fail the report (--require-data');
    expect((await cli(['--help'])).stdout).toMatch(/runlane report daily .*\n.*runlane stalls tail\|by/);
  });

  it('shows control characters from events as escapes on the terminal', async () => {
    await writeFile(stallsFile, jsonLines([aStall({ host: 'evil\u001b[2J\rhost' })]));
    const { stdout } = await daily();
    expect(stdout).toContain('evil\\u001b[2J\\u000dhost');
    expect(stdout).not.toContain('\u001b');
  });
});

describe('EvidenceFileSource', () => {
  const window = reportWindow(NOW);

  it('accepts one missing default file, not both', async () => {
    await writeFile(runsFile, jsonLines([aRun()]));
    const onlyRuns = await new EvidenceFileSource({ stallsFile, runsFile }).load(window);
    expect(onlyRuns).toMatchObject({ stalls: [], skipped: 0 });
    expect(onlyRuns.runs).toHaveLength(1);
    expect(onlyRuns.notes).toEqual([`${stallsFile} does not exist: no stall recorded yet`]);

    await expect(
      new EvidenceFileSource({ stallsFile, runsFile: join(dir, 'none.jsonl') }).load(window),
    ).rejects.toThrow(/^no runner evidence: neither .* nor .* exists/);
  });

  it('returns only the events inside the window', async () => {
    await writeFile(
      stallsFile,
      jsonLines([aStall({ ts: ago(10 * MINUTE) }), aStall({ ts: ago(24 * HOUR) }), aStall({ ts: ago(-1) })]),
    );
    const { stalls } = await new EvidenceFileSource({ stallsFile, runsFile }).load(window);
    expect(stalls.map((s) => s.ts)).toEqual([ago(10 * MINUTE)]);
  });
});

describe('runlane stalls', () => {
  const stalls = (...args: string[]) => cli(['stalls', ...args, '--evidence', stallsFile]);

  /** 12 stalls a minute apart, oldest first; hosts h0…h11; root causes rotate. */
  async function writeTwelve(tail = '') {
    const causes = ['network', 'io_wait', 'network', 'lock'] as const;
    const events = Array.from({ length: 12 }, (_, i) =>
      aStall({ ts: ago((12 - i) * MINUTE), host: `h${i}`, rootCause: causes[i % 4], pid: i + 1 }),
    );
    await writeFile(stallsFile, jsonLines(events) + tail);
    return events;
  }

  it('tail: the last 10 by default, or -n; skipped lines counted', async () => {
    const events = await writeTwelve('{"broken": true}\n{"id":"torn');

    const byDefault = JSON.parse((await stalls('tail', '--json')).stdout);
    const three = await stalls('tail', '-n', '3');

    expect(byDefault.events.map((e: { pid: number }) => e.pid)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(byDefault.skipped).toBe(2);
    expect(three.status).toBe(0);
    const rows = three.stdout.split('\n');
    expect(rows[0]).toMatch(
      /^TIME\s+ENVIRONMENT\s+HOST\s+COMMAND TYPE\s+ROOT CAUSE\s+TIMEOUT\s+ELAPSED\s+EVIDENCE$/,
    );
    expect(rows.slice(1).map((r) => r.split(/\s+/)[2])).toEqual(['h9', 'h10', 'h11']);
    expect(rows[1]).toContain(events[9]?.ts);
    expect(three.stderr).toBe(
      `note: ${stallsFile}: skipped 1 invalid line and an unfinished last line (a write in progress, or a crash)`,
    );
  });

  it('by <field>: counts per value, most first, of the last --tail stalls', async () => {
    await writeTwelve();

    const all = JSON.parse((await stalls('by', 'rootCause', '--json')).stdout);
    const lastFour = JSON.parse((await stalls('by', 'rootCause', '--tail', '4', '--json')).stdout);
    const text = await stalls('by', 'rootCause');

    expect(all).toMatchObject({ field: 'rootCause', total: 12, tail: 50, since: null });
    expect(all.values).toEqual([
      { value: 'network', count: 6, share: 0.5 },
      { value: 'io_wait', count: 3, share: 0.25 },
      { value: 'lock', count: 3, share: 0.25 },
    ]);
    expect(lastFour.values.map((v: { count: number }) => v.count)).toEqual([2, 1, 1]);
    expect(text.stdout.split('\n')).toEqual([
      `Stalls by rootCause (12 stalls; last 50) in ${stallsFile}`,
      '  network  6  50 %',
      '  io_wait  3  25 %',
      '  lock     3  25 %',
    ]);
  });

  it('by <field> --since: only stalls newer than now minus the duration, all of them', async () => {
    await writeTwelve();
    const { stdout } = await stalls('by', 'host', '--since', '5m', '--now', NOW.toISOString(), '--json');
    const parsed = JSON.parse(stdout);
    // Stalls 1…5 minutes old are inside (now − 5 min, now]; the one exactly 5 minutes old is out.
    expect(parsed.values.map((v: { value: string }) => v.value).sort()).toEqual(['h10', 'h11', 'h8', 'h9']);
    expect(parsed).toMatchObject({ tail: null, since: ago(5 * MINUTE) });
  });

  it('exits 2 naming the allowed fields for a bad field, 1 for a missing file', async () => {
    await writeTwelve();
    const bad = await stalls('by', 'pid');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(
      /^runlane stalls: command-argument value 'pid' is invalid for argument 'field'. Allowed choices are rootCause, environment, host, commandType/,
    );
    expect((await stalls('by')).status).toBe(2);
    expect((await stalls('tail', '-n', 'ten')).status).toBe(2);
    expect((await stalls('by', 'host', '--since', '30 minutes')).status).toBe(2);
    expect((await stalls('sideways')).status).toBe(2);

    await rm(stallsFile);
    const missing = await stalls('tail');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(
      /^runlane: no stall evidence at .*stall-events\.jsonl: runlane-agent creates it/,
    );
  });

  it('--help lists both subcommands and the exit codes', async () => {
    const { status, stdout } = await cli(['stalls', '--help']);
    expect(status).toBe(0);
    expect(stdout).toContain('runlane stalls tail [-n 10]');
    expect(stdout).toContain('runlane stalls by <rootCause|environment|host|commandType>');
    expect(stdout).toContain('Exit codes: 0 success, 1 failure');
  });
});
